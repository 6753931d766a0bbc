import type { LoadService } from '../application/loads.js';
import { reactingTo } from '../application/invocation.js';
import { PAYMENTS_SYSTEM, type PaymentService, type PaymentTerms } from '../application/payments.js';
import { LoadDelivered, loadEvents } from '../domain/load/events.js';
import { LOAD_STREAM, loadIdOf } from '../domain/load/stream.js';
import { paymentIdForLoad } from '../domain/payment/stream.js';
import type { AtLeastOnceProjector } from '../projections/types.js';

/**
 * A reactor: a delivered load is invoiced (the shipper owes the load's rate; the carrier is owed
 * that less the platform's fee). Idempotent: the invoice's event id derives from the delivery's.
 */
export function invoicingReactor(
  services: { loads: Pick<LoadService, 'state'>; payments: Pick<PaymentService, 'run'> },
  terms: PaymentTerms,
): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'invoicing',
    version: 1,
    eventTypes: [LoadDelivered.type],
    streamPrefixes: [LOAD_STREAM],
    async apply(events) {
      for (const e of events) {
        const state = await services.loads.state(loadIdOf(e.streamId), e.revision);
        if (state.status !== 'delivered') continue;
        const loadId = state.posting.loadId;
        const paymentId = paymentIdForLoad(loadId);
        await services.payments.run(
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
          },
          reactingTo(e, PAYMENTS_SYSTEM, `invoice:${e.id}`),
        );
      }
    },
  };
}
