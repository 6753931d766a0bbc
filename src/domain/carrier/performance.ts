import type { LoadState } from '../load/decider.js';
import type { LoadEvent } from '../load/events.js';

export type LoadOutcome = 'on_time' | 'late' | 'cancelled';

/**
 * What a load event says about the booked carrier's performance, given the load's state just
 * before it (pure). A delivery is on time when it lands by the end of the delivery window, late
 * otherwise; a carrier backing out of its booking is a cancellation. A shipper cancelling a load
 * says nothing about the carrier. Other events are not outcomes.
 */
export function outcomeOf(
  before: LoadState,
  event: LoadEvent,
): { carrierId: string; loadId: string; outcome: LoadOutcome } | undefined {
  if (before.status === 'none') return undefined;
  const loadId = before.posting.loadId;
  switch (event.type) {
    case 'LoadDelivered': {
      if (before.status !== 'picked_up' && before.status !== 'in_transit') return undefined;
      const due = before.posting.deliveryWindow.to.getTime();
      return {
        carrierId: before.booking.carrierId,
        loadId,
        outcome: event.data.deliveredAt.getTime() <= due ? 'on_time' : 'late',
      };
    }
    case 'LoadBookingReleased':
      return { carrierId: event.data.carrierId, loadId, outcome: 'cancelled' };
    default:
      return undefined;
  }
}

/** The outcomes a carrier's score counts once each: one delivery per load, one release per load. */
export const outcomeKey = (loadId: string, outcome: LoadOutcome) =>
  `${loadId}/${outcome === 'cancelled' ? 'released' : 'delivered'}`;
