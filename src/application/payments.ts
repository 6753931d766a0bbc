import * as payment from '../domain/payment/decider.js';
import { type PaymentEvent, paymentEvents } from '../domain/payment/events.js';
import { paymentStream } from '../domain/payment/stream.js';
import type { EventStore, RecordedEvent } from '../eventstore/types.js';
import { Aggregate } from './aggregate.js';
import type { HandleResult } from './handle.js';
import { type Invocation, systemActor, type Unsent } from './invocation.js';

export const PAYMENTS_ACTOR = 'system:payments';
/** Jobs, webhooks and the invoicing reactor act on payments as the platform. */
export const PAYMENTS_SYSTEM = systemActor(PAYMENTS_ACTOR, ['admin']);

export interface PaymentTerms {
  /** The platform's fee on a load, in basis points of the rate. */
  feeBps: number;
  /** Standard payout terms, days after delivery. */
  termsDays: number;
}

/** Load settlements: every event of a payment stream is hash-chained to the one before it. */
export class PaymentService {
  private readonly aggregate: Aggregate<payment.PaymentCommand, PaymentEvent, payment.PaymentState>;

  constructor(private readonly store: EventStore) {
    this.aggregate = new Aggregate(store, {
      stream: paymentStream,
      registry: paymentEvents,
      decider: payment,
      chained: true,
    });
  }

  /** A payment as its stream says now (or up to a revision). */
  state(paymentId: string, upTo?: bigint): Promise<payment.PaymentState> {
    return this.aggregate.state(paymentId, upTo);
  }

  /** Every event of the payment, as recorded: what auditors replay. */
  history(paymentId: string): Promise<RecordedEvent[]> {
    return this.store.readStream(paymentStream(paymentId));
  }

  run(paymentId: string, command: Unsent<payment.PaymentCommand>, by: Invocation): Promise<HandleResult<PaymentEvent>> {
    return this.aggregate.run(paymentId, command, by);
  }
}
