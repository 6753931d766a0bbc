import type { Knex } from 'knex';
import type { Middleware } from 'koa';
import Stripe from 'stripe';
import { z } from 'zod';
import { PAYMENTS_SYSTEM, type PaymentService } from '../../application/payments.js';
import type { Unsent } from '../../application/invocation.js';
import type { PaymentCommand } from '../../domain/payment/decider.js';
import { DomainError } from '../../domain/shared/errors.js';
import { unstorableText } from '../body.js';
import type { Logger } from '../../infra/logger.js';
import { paymentOfCharge } from '../../read-models/ledger/queries.js';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';
const MAX_BODY = 512 * 1024;

export interface StripeWebhookDeps {
  knex: Knex;
  payments: PaymentService;
  logger: Logger;
  secret: string;
  /** Seconds a signature's timestamp may be off (replay protection). */
  toleranceSeconds: number;
}

type Outcome = 'applied' | 'ignored' | 'not yet known';

/*
 * What a signed delivery must hold before anything is stored. A signature proves who sent the
 * bytes, not their shape (Stripe's `constructEvent` only checks it, then calls JSON.parse). Ids and types are
 * printable ASCII of at most 255 characters (Stripe's ids are `evt_…`, documented up to 255).
 */
const stripeText = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'Expected printable ASCII without spaces');
// The time of a command becomes an ISO date in the stored event: years 1970 to 9999 only.
const created = z.number().int().min(0).max(253_402_300_799);
const envelope = { id: stripeText, created };
const anyEvent = z.object({ ...envelope, type: stripeText, data: z.object({ object: z.looseObject({}) }) });

// Only the fields acted on, bounded as the payment events that carry them are (events.ts).
const paymentIntent = z.object({
  id: stripeText,
  metadata: z.record(z.string(), z.string()).nullish(),
  last_payment_error: z
    .object({ code: z.string().max(500).nullish(), decline_code: z.string().max(500).nullish() })
    .nullish(),
});
const dispute = z.object({
  id: stripeText,
  amount: z.number().int().min(0),
  payment_intent: z.union([stripeText, z.object({ id: stripeText })], {
    error: 'Expected a payment intent id, or an object with one',
  }),
  status: z.string().min(1).max(255),
  reason: z.string().min(1).max(500),
});
const handledEvent = z.discriminatedUnion('type', [
  z.object({
    ...envelope,
    type: z.enum(['payment_intent.succeeded', 'payment_intent.payment_failed']),
    data: z.object({ object: paymentIntent }),
  }),
  z.object({
    ...envelope,
    type: z.enum(['charge.dispute.created', 'charge.dispute.closed']),
    data: z.object({ object: dispute }),
  }),
]);
type AnyEvent = z.infer<typeof anyEvent>;
type HandledEvent = z.infer<typeof handledEvent>;
const HANDLED: ReadonlySet<string> = new Set(handledEvent.options.flatMap((o) => o.shape.type.options));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `POST /webhooks/stripe`: the signature is checked on the raw body (before any JSON parsing)
 * with the configured tolerance; an unsigned or badly signed request is logged and refused, and
 * appends nothing. A signed body that is not UTF-8 JSON of a Stripe event, holds text Postgres
 * cannot store, or (for the types acted on) an object of another shape is refused alike, 400
 * `bad-webhook-event`, before anything is stored. Deliveries are deduplicated by Stripe event id
 * (a table keeps the ids); the commands they send are idempotent too (their event ids derive from
 * the Stripe event id), and the payment decider ignores what is already recorded, so repeated and
 * out-of-order deliveries change nothing twice. An event about a payment not yet known here is
 * answered 503, so Stripe delivers it again later.
 */
export function stripeWebhook(deps: StripeWebhookDeps): Middleware {
  const signatures = new Stripe('sk_unused_for_webhooks').webhooks.signature;
  if (!signatures) throw new Error('the Stripe library has no webhook signature helper');
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
    try {
      if (!signature) throw new Error('no Stripe-Signature header');
      signatures.verifyHeader(raw, signature, deps.secret, deps.toleranceSeconds);
    } catch (err) {
      deps.logger.warn('stripe webhook refused: bad or missing signature', {
        ip: ctx.ip,
        reason: (err as Error).message,
        bytes: raw.length,
      });
      return problem(400, 'bad-signature', 'The Stripe signature is missing, invalid or too old');
    }
    const parsed = parseEvent(raw);
    if ('refused' in parsed) {
      deps.logger.warn('stripe webhook refused: malformed event', {
        ip: ctx.ip,
        reason: parsed.refused,
        bytes: raw.length,
        ...(parsed.eventId ? { eventId: parsed.eventId } : {}),
      });
      return problem(
        400,
        'bad-webhook-event',
        `The signed body is not a Stripe event this endpoint accepts: ${parsed.refused}`,
      );
    }
    const { event, handled } = parsed;

    const inserted = await deps
      .knex('stripe_webhook_events')
      .insert({ event_id: event.id, type: event.type })
      .onConflict('event_id')
      .ignore()
      .returning('event_id');
    if (!inserted.length) {
      const seen = await deps
        .knex('stripe_webhook_events')
        .where({ event_id: event.id })
        .first<{ processed_at: Date | null; outcome: string | null }>();
      if (seen?.processed_at) {
        ctx.body = { received: true, duplicate: true, outcome: seen.outcome };
        return;
      }
    }
    let outcome: Outcome;
    try {
      outcome = handled ? await act(handled) : 'ignored';
    } catch (err) {
      deps.logger.error('stripe webhook failed; Stripe will deliver it again', {
        eventId: event.id,
        type: event.type,
        err,
      });
      return problem(500, 'webhook-failed', 'The event could not be applied now');
    }
    if (outcome === 'not yet known') {
      return problem(
        503,
        'not-yet-known',
        'The payment this event is about is not known here yet; deliver again later',
      );
    }
    await deps
      .knex('stripe_webhook_events')
      .where({ event_id: event.id })
      .update({ processed_at: new Date(), outcome });
    ctx.body = { received: true, outcome };
  };

  async function send(paymentId: string, command: Unsent<PaymentCommand>, event: HandledEvent): Promise<Outcome> {
    try {
      const r = await deps.payments.run(paymentId, command, {
        actor: PAYMENTS_SYSTEM,
        now: new Date(event.created * 1000),
        idempotencyKey: `stripe-${event.id}`,
        causationId: event.id,
      });
      return r.events.length || r.replayed ? 'applied' : 'ignored';
    } catch (err) {
      // Late or stale news (a failure after the success, a charge that is not the one under way).
      if (err instanceof DomainError) return 'ignored';
      throw err;
    }
  }

  async function act(event: HandledEvent): Promise<Outcome> {
    switch (event.type) {
      case 'payment_intent.succeeded':
      case 'payment_intent.payment_failed': {
        const intent = event.data.object;
        const { paymentId, chargeId } = intent.metadata ?? {};
        // Not one of ours: our intents carry the payment's and the charge's uuids.
        if (!paymentId || !chargeId || !UUID.test(paymentId)) return 'ignored';
        if (event.type === 'payment_intent.succeeded')
          return send(paymentId, { type: 'RecordChargeSucceeded', data: { chargeId, providerRef: intent.id } }, event);
        const reason = intent.last_payment_error?.decline_code || intent.last_payment_error?.code || 'payment failed';
        return send(paymentId, { type: 'RecordChargeFailed', data: { chargeId, reason } }, event);
      }
      case 'charge.dispute.created':
      case 'charge.dispute.closed': {
        const dispute = event.data.object;
        const chargeRef =
          typeof dispute.payment_intent === 'string' ? dispute.payment_intent : dispute.payment_intent.id;
        const paymentId = await paymentOfCharge(deps.knex, chargeRef);
        if (!paymentId) return 'not yet known';
        if (event.type === 'charge.dispute.created') {
          return send(
            paymentId,
            {
              type: 'OpenDispute',
              data: { disputeId: dispute.id, amountCents: dispute.amount, reason: dispute.reason },
            },
            event,
          );
        }
        // Closed before we heard it opened (deliveries are not ordered): wait for the opening.
        const state = await deps.payments.state(paymentId);
        if (state.status === 'none' || !state.settlement.disputes[dispute.id]) return 'not yet known';
        return send(
          paymentId,
          {
            type: 'ResolveDispute',
            data: { disputeId: dispute.id, outcome: dispute.status === 'won' ? 'won' : 'lost' },
          },
          event,
        );
      }
      default: {
        const unhandled: never = event;
        throw new Error(`unhandled Stripe event ${(unhandled as HandledEvent).type}`);
      }
    }
  }
}

type Parsed = { event: AnyEvent; handled?: HandledEvent } | { refused: string; eventId?: string };

/** The signed body as an event, or what is wrong with it (said in the 400's detail). */
function parseEvent(raw: Buffer): Parsed {
  let text: string;
  try {
    // Fatal: Stripe's own check decodes leniently (U+FFFD), so it does not refuse such bytes.
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return { refused: 'the body is not valid UTF-8' };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { refused: 'the body is not JSON' };
  }
  const where = unstorableText(body);
  if (where !== undefined)
    return {
      refused: `${where.slice(1) || 'the event'} holds a NUL character or an unpaired UTF-16 surrogate, which cannot be stored`,
    };
  const any = anyEvent.safeParse(body);
  if (!any.success) return { refused: describe(any.error), ...eventIdOf(body) };
  if (!HANDLED.has(any.data.type)) return { event: any.data };
  const handled = handledEvent.safeParse(body);
  if (!handled.success) return { refused: describe(handled.error), eventId: any.data.id };
  return { event: any.data, handled: handled.data };
}

function describe(error: z.ZodError): string {
  const text = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : 'the event'}: ${i.message}`)
    .join('; ');
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

const eventIdOf = (body: unknown): { eventId?: string } => {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' && stripeText.safeParse(id).success ? { eventId: id } : {};
};

function readRaw(req: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
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
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
