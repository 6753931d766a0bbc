import { LoadDelivered, loadEvents } from '../domain/load/events.js';
import { LOAD_STREAM, loadIdOf } from '../domain/load/stream.js';
import { paymentIdForLoad } from '../domain/payment/stream.js';
import type { AtLeastOnceProjector } from '../projections/types.js';
import { loadState } from '../application/lookups.js';
import { causedBy, PAYMENTS_ACTOR, PAYMENTS_SYSTEM, type PaymentTerms, runPayment } from '../application/payments.js';
import type { EventStore } from '../eventstore/types.js';

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
    streamPrefixes: [LOAD_STREAM],
    async apply(events) {
      for (const e of events) {
        const state = await loadState(store, loadIdOf(e.streamId), e.revision);
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
