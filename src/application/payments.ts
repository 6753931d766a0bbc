import { v5 as uuidv5 } from 'uuid';
import { LoadDelivered, loadEvents } from '../domain/load/events.js';
import * as payment from '../domain/payment/decider.js';
import { type PaymentEvent, paymentEvents } from '../domain/payment/events.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../eventstore/types.js';
import type { AtLeastOnceProjector } from '../projections/types.js';
import { handle, type HandleOptions } from './handle.js';
import { fold, loadState } from './lookups.js';

export const PAYMENT_STREAM = 'payment-';
export const paymentStream = (paymentId: string) => `${PAYMENT_STREAM}${paymentId}`;
const NS = '5b0a9f7e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
/** One settlement per load: its id derives from the load's. */
export const paymentIdForLoad = (loadId: string) => uuidv5(`payment:${loadId}`, NS);

export const PAYMENTS_ACTOR = 'system:payments';
/** Jobs and webhooks act on payments as the platform. */
export const PAYMENTS_SYSTEM = { userId: PAYMENTS_ACTOR, orgId: PAYMENTS_ACTOR, roles: ['admin'] } as const;

export interface PaymentTerms {
  /** The platform's fee on a load, in basis points of the rate. */
  feeBps: number;
  /** Standard payout terms, days after delivery. */
  termsDays: number;
}

/** A payment as its stream says now (or up to a revision). */
export function paymentState(store: EventStore, paymentId: string, upTo?: bigint): Promise<payment.PaymentState> {
  return fold<PaymentEvent, payment.PaymentState>(store, paymentEvents, paymentStream(paymentId), payment.evolve, payment.initialState, upTo);
}

/** Runs a payment command; every event is hash-chained to the one before it. */
export function runPayment(store: EventStore, paymentId: string, command: payment.PaymentCommand, options: Omit<HandleOptions, 'chained'> = {}) {
  return handle({ store, registry: paymentEvents }, paymentStream(paymentId), payment, command, { ...options, chained: true });
}

export const causedBy = (e: RecordedEvent, actor: string): EventMetadata => ({
  actor,
  causationId: e.id,
  ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
});

/**
 * A reactor: a delivered load is invoiced (the shipper owes the load's rate; the carrier is owed
 * that less the platform's fee). Idempotent: the invoice's event id derives from the delivery's.
 */
export function invoicingReactor(store: EventStore, terms: PaymentTerms): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'invoicing',
    version: 1,
    eventTypes: [LoadDelivered.type],
    streamPrefixes: ['load-'],
    async apply(events) {
      for (const e of events) {
        const state = await loadState(store, e.streamId.slice('load-'.length), e.revision);
        if (state.status !== 'delivered') continue;
        const loadId = state.posting.loadId;
        const paymentId = paymentIdForLoad(loadId);
        await runPayment(
          store,
          paymentId,
          {
            type: 'IssueInvoice',
            data: {
              paymentId,
              loadId,
              shipperOrgId: state.posting.shipperOrgId,
              carrierId: state.booking.carrierId,
              carrierOrgId: state.booking.carrierOrgId,
              amountCents: state.booking.rateCents,
              feeBps: terms.feeBps,
              termsDays: terms.termsDays,
              deliveredAt: (loadEvents.decode(e) as { deliveredAt: Date }).deliveredAt,
            },
            metadata: { now: e.createdAt, actor: PAYMENTS_SYSTEM },
          },
          { idempotencyKey: `invoice:${e.id}`, metadata: causedBy(e, PAYMENTS_ACTOR) },
        );
      }
    },
  };
}
