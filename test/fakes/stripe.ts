import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Stripe API (which cannot be reached from here), for the real `stripe`
 * client pointed at it (host, port, protocol). It creates PaymentIntents (confirmed at once) and
 * Connect transfers, honours Idempotency-Key as Stripe does (the same key and body replay the
 * first answer; the same key with another body is an idempotency_error), and can be told to
 * decline cards, fail with 5xx, answer slowly, or not answer at all.
 */
export class FakeStripe {
  readonly paymentIntents = new Map<string, Record<string, unknown>>();
  readonly transfers = new Map<string, Record<string, unknown>>();
  readonly refunds = new Map<string, Record<string, unknown>>();
  /** Every request as it arrived. */
  readonly requests: { method: string; path: string; idempotencyKey?: string; at: number }[] = [];
  /** Decline the next n charges (card_declined / insufficient_funds). */
  declines = 0;
  /** Answer 500 to the next n requests. */
  failures = 0;
  /** Never answer the next n requests (the client's timeout must fire). */
  hangs = 0;
  delayMs = 0;
  /** Process the next n requests, but answer only after this long (the client gives up first; a retry must not charge twice). */
  slow = { count: 0, ms: 0 };
  private readonly inFlight = new Set<string>();
  /** Connect accounts that refuse transfers (closed). */
  readonly closedAccounts = new Set<string>();
  private readonly idempotent = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  private server?: Server;
  private readonly open = new Set<ServerResponse>();

  async start(): Promise<{ host: string; port: number; protocol: 'http' }> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return { host: '127.0.0.1', port: (this.server.address() as AddressInfo).port, protocol: 'http' };
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const key = req.headers['idempotency-key'] as string | undefined;
    this.requests.push({ method: req.method ?? 'GET', path, ...(key ? { idempotencyKey: key } : {}), at: Date.now() });
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    if (this.hangs > 0) {
      this.hangs--;
      return; // never answers
    }
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const slowMs = this.slow.count > 0 ? (this.slow.count--, this.slow.ms) : 0;
    if (this.failures > 0) {
      this.failures--;
      return send(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred' } });
    }
    if (!(req.headers.authorization ?? '').startsWith('Bearer sk_test_'))
      return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    const fingerprint = createHash('sha256').update(`${req.method} ${path} ${raw}`).digest('hex');
    if (key) {
      const seen = this.idempotent.get(key);
      if (seen && seen.fingerprint !== fingerprint) {
        return send(res, 400, {
          error: {
            type: 'idempotency_error',
            message:
              'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          },
        });
      }
      if (seen) return send(res, seen.status, seen.body, { 'Idempotent-Replayed': 'true' });
    }
    if (key && this.inFlight.has(key)) {
      return send(res, 409, {
        error: {
          type: 'idempotency_error',
          message: 'There is currently another in-progress request using this Idempotent Key',
        },
      });
    }
    if (key) this.inFlight.add(key);
    const params = new URLSearchParams(raw);
    const [status, body] = this.route(req.method ?? 'GET', path, params);
    if (key && status < 500) this.idempotent.set(key, { fingerprint, status, body });
    if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
    if (key) this.inFlight.delete(key);
    if (!res.destroyed) send(res, status, body);
  }

  private route(method: string, path: string, p: URLSearchParams): [number, unknown] {
    const id = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;
    if (method === 'POST' && path === '/v1/payment_intents') {
      const amount = Number(p.get('amount'));
      if (!Number.isInteger(amount) || amount <= 0 || !p.get('currency'))
        return [400, { error: { type: 'invalid_request_error', message: 'amount and currency are required' } }];
      if (this.declines > 0) {
        this.declines--;
        return [
          402,
          {
            error: {
              type: 'card_error',
              code: 'card_declined',
              decline_code: 'insufficient_funds',
              message: 'Your card has insufficient funds.',
            },
          },
        ];
      }
      const intent = {
        id: id('pi'),
        object: 'payment_intent',
        amount,
        currency: p.get('currency'),
        customer: p.get('customer'),
        payment_method: p.get('payment_method'),
        transfer_group: p.get('transfer_group'),
        metadata: { paymentId: p.get('metadata[paymentId]'), chargeId: p.get('metadata[chargeId]') },
        status: 'succeeded',
      };
      this.paymentIntents.set(intent.id, intent);
      return [200, intent];
    }
    if (method === 'POST' && path === '/v1/transfers') {
      const destination = p.get('destination') ?? '';
      if (this.closedAccounts.has(destination))
        return [
          400,
          {
            error: {
              type: 'invalid_request_error',
              code: 'account_invalid',
              message: `No such destination: '${destination}'`,
            },
          },
        ];
      const transfer = {
        id: id('tr'),
        object: 'transfer',
        amount: Number(p.get('amount')),
        currency: p.get('currency'),
        destination,
        transfer_group: p.get('transfer_group'),
        metadata: { paymentId: p.get('metadata[paymentId]') },
      };
      this.transfers.set(transfer.id, transfer);
      return [200, transfer];
    }
    if (method === 'POST' && path === '/v1/refunds') {
      const intent = this.paymentIntents.get(p.get('payment_intent') ?? '');
      if (!intent)
        return [
          400,
          {
            error: {
              type: 'invalid_request_error',
              code: 'resource_missing',
              message: `No such payment_intent: '${p.get('payment_intent')}'`,
            },
          },
        ];
      const refunded = [...this.refunds.values()]
        .filter((r) => r.payment_intent === intent.id)
        .reduce((sum, r) => sum + Number(r.amount), 0);
      const amount = Number(p.get('amount') ?? Number(intent.amount) - refunded);
      if (amount + refunded > Number(intent.amount))
        return [
          400,
          {
            error: {
              type: 'invalid_request_error',
              code: 'charge_already_refunded',
              message: 'Refund amount exceeds the charge',
            },
          },
        ];
      const refund = {
        id: id('re'),
        object: 'refund',
        amount,
        payment_intent: intent.id,
        status: 'succeeded',
        metadata: { paymentId: p.get('metadata[paymentId]'), refundId: p.get('metadata[refundId]') },
      };
      this.refunds.set(refund.id, refund);
      return [200, refund];
    }
    return [
      404,
      { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } },
    ];
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'request-id': `req_${randomBytes(6).toString('hex')}`,
    ...headers,
  });
  res.end(JSON.stringify(body));
}
