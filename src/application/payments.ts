import * as payment from '../domain/payment/decider.js';
import { type PaymentEvent, paymentEvents } from '../domain/payment/events.js';
import type { EventMetadata, EventStore, RecordedEvent } from '../eventstore/types.js';
import { handle, type HandleOptions } from './handle.js';
import { fold } from './lookups.js';
import { paymentStream } from '../domain/payment/stream.js';

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
