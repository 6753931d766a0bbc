import type { Knex } from 'knex';
import type { Middleware } from 'koa';
import Stripe from 'stripe';
import { PAYMENTS_ACTOR, PAYMENTS_SYSTEM, paymentState, runPayment } from '../../application/payments.js';
import type { PaymentCommand } from '../../domain/payment/decider.js';
import { DomainError } from '../../domain/shared/errors.js';
import type { EventStore } from '../../eventstore/types.js';
import type { Logger } from '../../infra/logger.js';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';
const MAX_BODY = 512 * 1024;

export interface StripeWebhookDeps {
  knex: Knex;
  store: EventStore;
  logger: Logger;
  secret: string;
  /** Seconds a signature's timestamp may be off (replay protection). */
  toleranceSeconds: number;
}

type Outcome = 'applied' | 'ignored' | 'not yet known';

/**
 * `POST /webhooks/stripe`: the signature is checked on the raw body (before any JSON parsing)
 * with the configured tolerance; an unsigned or badly signed request is logged and refused, and
 * appends nothing. Deliveries are deduplicated by Stripe event id (a table keeps the ids); the
 * commands they send are idempotent too (their event ids derive from the Stripe event id), and
 * the payment decider ignores what is already recorded, so repeated and out-of-order deliveries
 * change nothing twice. An event about a payment not yet known here is answered 503, so Stripe
 * delivers it again later.
 */
export function stripeWebhook(deps: StripeWebhookDeps): Middleware {
  const stripe = new Stripe('sk_unused_for_webhooks');
  return async function stripeWebhookHandler(ctx, next) {
    if (ctx.path !== STRIPE_WEBHOOK_PATH) return next();
    if (ctx.method !== 'POST') {
      ctx.status = 405;
      ctx.set('Allow', 'POST');
      return;
    }
    const raw = await readRaw(ctx.req, MAX_BODY).catch(() => undefined);
    const problem = (status: number, type: string, detail: string) => {
      ctx.status = status;
      ctx.type = 'application/problem+json';
      ctx.body = { type: `urn:freight:problem:${type}`, title: detail, status, detail };
    };
    if (raw === undefined) return problem(413, 'payload-too-large', `A webhook body is at most ${MAX_BODY} bytes`);
    const signature = ctx.get('stripe-signature');
    let event: Stripe.Event;
    try {
      if (!signature) throw new Error('no Stripe-Signature header');
      event = stripe.webhooks.constructEvent(raw, signature, deps.secret, deps.toleranceSeconds);
    } catch (err) {
      deps.logger.warn('stripe webhook refused: bad or missing signature', { ip: ctx.ip, reason: (err as Error).message, bytes: raw.length });
      return problem(400, 'bad-signature', 'The Stripe signature is missing, invalid or too old');
    }

    const inserted = await deps.knex('stripe_webhook_events').insert({ event_id: event.id, type: event.type }).onConflict('event_id').ignore().returning('event_id');
    if (!inserted.length) {
      const seen = await deps.knex('stripe_webhook_events').where({ event_id: event.id }).first<{ processed_at: Date | null; outcome: string | null }>();
      if (seen?.processed_at) {
        ctx.body = { received: true, duplicate: true, outcome: seen.outcome };
        return;
      }
    }
    let outcome: Outcome;
    try {
      outcome = await act(event);
    } catch (err) {
      deps.logger.error('stripe webhook failed; Stripe will deliver it again', { eventId: event.id, type: event.type, err });
      return problem(500, 'webhook-failed', 'The event could not be applied now');
    }
    if (outcome === 'not yet known') {
      return problem(503, 'not-yet-known', 'The payment this event is about is not known here yet; deliver again later');
    }
    await deps.knex('stripe_webhook_events').where({ event_id: event.id }).update({ processed_at: new Date(), outcome });
    ctx.body = { received: true, outcome };
  };

  async function send(paymentId: string, command: Omit<PaymentCommand, 'metadata'>, event: Stripe.Event): Promise<Outcome> {
    try {
      const r = await runPayment(deps.store, paymentId, { ...command, metadata: { now: new Date(event.created * 1000), actor: PAYMENTS_SYSTEM } } as PaymentCommand, {
        idempotencyKey: `stripe-${event.id}`,
        metadata: { actor: PAYMENTS_ACTOR, causationId: event.id },
      });
      return r.events.length || r.replayed ? 'applied' : 'ignored';
    } catch (err) {
      // Late or stale news (a failure after the success, a charge that is not the one under way).
      if (err instanceof DomainError) return 'ignored';
      throw err;
    }
  }

  async function paymentOfCharge(ref: string | null | undefined): Promise<string | undefined> {
    if (!ref) return undefined;
    const row = await deps.knex('ledger_payments').where({ charge_ref: ref }).first<{ payment_id: string }>();
    return row?.payment_id;
  }

  async function act(event: Stripe.Event): Promise<Outcome> {
    switch (event.type) {
      case 'payment_intent.succeeded':
      case 'payment_intent.payment_failed': {
        const intent = event.data.object;
        const { paymentId, chargeId } = intent.metadata ?? {};
        if (!paymentId || !chargeId) return 'ignored';
        if (event.type === 'payment_intent.succeeded') return send(paymentId, { type: 'RecordChargeSucceeded', data: { chargeId, providerRef: intent.id } }, event);
        const reason = intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code ?? 'payment failed';
        return send(paymentId, { type: 'RecordChargeFailed', data: { chargeId, reason } }, event);
      }
      case 'charge.dispute.created':
      case 'charge.dispute.closed': {
        const dispute = event.data.object;
        const ref = typeof dispute.payment_intent === 'string' ? dispute.payment_intent : dispute.payment_intent?.id;
        const paymentId = await paymentOfCharge(ref);
        if (!paymentId) return 'not yet known';
        if (event.type === 'charge.dispute.created') {
          return send(paymentId, { type: 'OpenDispute', data: { disputeId: dispute.id, amountCents: dispute.amount, reason: dispute.reason } }, event);
        }
        // Closed before we heard it opened (deliveries are not ordered): wait for the opening.
        const state = await paymentState(deps.store, paymentId);
        if (state.status === 'none' || !state.settlement.disputes[dispute.id]) return 'not yet known';
        return send(paymentId, { type: 'ResolveDispute', data: { disputeId: dispute.id, outcome: dispute.status === 'won' ? 'won' : 'lost' } }, event);
      }
      default:
        return 'ignored';
    }
  }
}

function readRaw(req: NodeJS.ReadableStream, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('too large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
