import { ratePerMileCents } from '../../domain/load/decider.js';
import type { LoadEvent } from '../../domain/load/events.js';
import type { Position } from '../../eventstore/types.js';
import type { BoardRow, BoardStatus } from './schema.js';

// The board's shapes, where the routes, the search index and the dashboards have always imported them.
export { BOARD_STATUSES, type BoardRow, type BoardStatus, type HistoryRow } from './schema.js';

const STATUS_OF: Partial<Record<LoadEvent['type'], BoardStatus>> = {
  LoadPosted: 'posted',
  LoadBooked: 'booked',
  DriverAssigned: 'assigned',
  LoadPickedUp: 'picked_up',
  LoadInTransit: 'in_transit',
  LoadDelivered: 'delivered',
  LoadCancelled: 'cancelled',
  LoadBookingReleased: 'posted',
  LoadExpired: 'expired',
};

/** Whether the event changes the load's status (and so belongs in its history). */
export const statusAfter = (e: LoadEvent): BoardStatus | undefined => STATUS_OF[e.type];

/**
 * Folds one load event into its row (pure). `row` is undefined only before LoadPosted; events
 * the decider would never emit in that state leave the row as it is.
 */
export function evolveRow(
  row: BoardRow | undefined,
  e: LoadEvent,
  revision: bigint,
  at: Date,
  shipperName: string | null,
  position: Position,
): BoardRow | undefined {
  const pos = { pos_commit: position.commit.toString(), pos_prepare: position.prepare.toString() };
  if (e.type === 'LoadPosted') {
    const d = e.data;
    return {
      load_id: d.loadId,
      revision: revision.toString(),
      status: 'posted',
      shipper_org_id: d.shipperOrgId,
      shipper_name: shipperName,
      reference: d.reference,
      commodity: d.commodity,
      description: d.description,
      weight_lb: d.weightLb,
      length_ft: d.lengthFt,
      equipment_type: d.equipmentType,
      load_size: d.loadSize,
      origin_address: d.origin.address,
      origin_city: d.origin.city,
      origin_state: d.origin.state,
      origin_zip: d.origin.zip,
      origin_lat: d.origin.lat,
      origin_lng: d.origin.lng,
      dest_address: d.destination.address,
      dest_city: d.destination.city,
      dest_state: d.destination.state,
      dest_zip: d.destination.zip,
      dest_lat: d.destination.lat,
      dest_lng: d.destination.lng,
      pickup_from: d.pickupWindow.from,
      pickup_to: d.pickupWindow.to,
      delivery_from: d.deliveryWindow.from,
      delivery_to: d.deliveryWindow.to,
      rate_cents: d.rateCents,
      currency: d.currency,
      trip_miles: d.tripMiles,
      trip_miles_estimated: d.tripMilesEstimated,
      rate_per_mile_cents: ratePerMileCents(d.rateCents, d.tripMiles),
      tarps: d.requirements.tarps,
      hazmat: d.requirements.hazmat,
      twic: d.requirements.twic,
      team_drivers: d.requirements.teamDrivers,
      open_bids: 0,
      bid_count: 0,
      carrier_id: null,
      carrier_org_id: null,
      booked_rate_cents: null,
      driver_id: null,
      truck_id: null,
      posted_at: d.postedAt,
      expires_at: d.expiresAt,
      booked_at: null,
      picked_up_at: null,
      delivered_at: null,
      arrived_pickup_at: null,
      arrived_delivery_at: null,
      review_reason: null,
      flagged_at: null,
      updated_at: at,
      ...pos,
    };
  }
  if (!row) return row;
  const next: BoardRow = { ...row, revision: revision.toString(), updated_at: at, ...pos };
  switch (e.type) {
    case 'LoadRevised': {
      const { rateCents, pickupWindow, deliveryWindow, expiresAt } = e.data;
      if (rateCents !== undefined) {
        next.rate_cents = rateCents;
        next.rate_per_mile_cents = ratePerMileCents(rateCents, row.trip_miles);
      }
      if (pickupWindow) [next.pickup_from, next.pickup_to] = [pickupWindow.from, pickupWindow.to];
      if (deliveryWindow) [next.delivery_from, next.delivery_to] = [deliveryWindow.from, deliveryWindow.to];
      next.expires_at = expiresAt;
      return next;
    }
    case 'BidPlaced':
      return { ...next, open_bids: row.open_bids + 1, bid_count: row.bid_count + 1 };
    case 'BidWithdrawn':
    case 'BidAccepted':
      // The decider withdraws and accepts open bids only.
      return { ...next, open_bids: Math.max(0, row.open_bids - 1) };
    case 'LoadBooked':
      return {
        ...next,
        status: 'booked',
        carrier_id: e.data.carrierId,
        carrier_org_id: e.data.carrierOrgId,
        booked_rate_cents: e.data.rateCents,
        booked_at: e.data.bookedAt,
      };
    case 'DriverAssigned': {
      // As the decider: a new truck has arrived nowhere yet.
      const sameTruck = row.status === 'assigned' && row.truck_id === e.data.truckId;
      return {
        ...next,
        status: 'assigned',
        driver_id: e.data.driverId,
        truck_id: e.data.truckId,
        ...(sameTruck ? {} : { arrived_pickup_at: null, arrived_delivery_at: null }),
      };
    }
    case 'LoadPickedUp':
      return { ...next, status: 'picked_up', picked_up_at: e.data.pickedUpAt };
    case 'LoadInTransit':
      return { ...next, status: 'in_transit' };
    case 'LoadDelivered':
      return { ...next, status: 'delivered', delivered_at: e.data.deliveredAt };
    case 'LoadCancelled':
      return { ...next, status: 'cancelled' };
    case 'LoadBookingReleased':
      return {
        ...next,
        status: 'posted',
        carrier_id: null,
        carrier_org_id: null,
        booked_rate_cents: null,
        booked_at: null,
        driver_id: null,
        truck_id: null,
        arrived_pickup_at: null,
        arrived_delivery_at: null,
      };
    case 'LoadArrived':
      return e.data.site === 'pickup'
        ? { ...next, arrived_pickup_at: e.data.arrivedAt }
        : { ...next, arrived_delivery_at: e.data.arrivedAt };
    case 'LoadFlaggedForReview':
      return { ...next, review_reason: e.data.reason, flagged_at: e.data.flaggedAt };
    case 'LoadExpired':
      return { ...next, status: 'expired' };
    default: {
      const unknown: never = e;
      throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
    }
  }
}
