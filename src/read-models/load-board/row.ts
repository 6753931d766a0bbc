import { ratePerMileCents } from '../../domain/load/decider.js';
import type { LoadEvent } from '../../domain/load/events.js';
import type { Position } from '../../eventstore/types.js';
import { columns } from '../../projections/sql/rows.js';

export type BoardStatus = 'posted' | 'booked' | 'assigned' | 'picked_up' | 'in_transit' | 'delivered' | 'cancelled' | 'expired';
export const BOARD_STATUSES: readonly BoardStatus[] = ['posted', 'booked', 'assigned', 'picked_up', 'in_transit', 'delivered', 'cancelled', 'expired'];

/** One load-board row: the load denormalized for filtering and display (no JSON columns). */
export interface BoardRow {
  load_id: string;
  revision: string;
  status: BoardStatus;
  shipper_org_id: string;
  shipper_name: string | null;
  reference: string;
  commodity: string;
  description: string;
  weight_lb: number;
  length_ft: number;
  equipment_type: string;
  load_size: string;
  origin_address: string;
  origin_city: string;
  origin_state: string;
  origin_zip: string;
  origin_lat: number;
  origin_lng: number;
  dest_address: string;
  dest_city: string;
  dest_state: string;
  dest_zip: string;
  dest_lat: number;
  dest_lng: number;
  pickup_from: Date;
  pickup_to: Date;
  delivery_from: Date;
  delivery_to: Date;
  rate_cents: number;
  currency: string;
  trip_miles: number;
  trip_miles_estimated: boolean;
  rate_per_mile_cents: number;
  tarps: boolean;
  hazmat: boolean;
  twic: boolean;
  team_drivers: boolean;
  open_bids: number;
  bid_count: number;
  carrier_id: string | null;
  carrier_org_id: string | null;
  booked_rate_cents: number | null;
  driver_id: string | null;
  truck_id: string | null;
  posted_at: Date;
  expires_at: Date;
  booked_at: Date | null;
  picked_up_at: Date | null;
  delivered_at: Date | null;
  /** When the assigned truck's GPS first came within the geofence of each site. */
  arrived_pickup_at: Date | null;
  arrived_delivery_at: Date | null;
  /** Set when pickup was confirmed without the GPS to back it: why, and when. */
  review_reason: string | null;
  flagged_at: Date | null;
  updated_at: Date;
  /** Global position of the last event applied to the row (numeric text): dashboards resume from it. */
  pos_commit: string;
  pos_prepare: string;
}

/** The board's columns and their types, in table order: how a batch of rows travels (`upsertRows`). */
export const BOARD_COLUMNS = columns<BoardRow>({
  load_id: 'uuid',
  revision: 'int8',
  status: 'text',
  shipper_org_id: 'uuid',
  shipper_name: 'text',
  reference: 'text',
  commodity: 'text',
  description: 'text',
  weight_lb: 'int4',
  length_ft: 'float8',
  equipment_type: 'text',
  load_size: 'text',
  origin_address: 'text',
  origin_city: 'text',
  origin_state: 'text',
  origin_zip: 'text',
  origin_lat: 'float8',
  origin_lng: 'float8',
  dest_address: 'text',
  dest_city: 'text',
  dest_state: 'text',
  dest_zip: 'text',
  dest_lat: 'float8',
  dest_lng: 'float8',
  pickup_from: 'timestamptz',
  pickup_to: 'timestamptz',
  delivery_from: 'timestamptz',
  delivery_to: 'timestamptz',
  rate_cents: 'int4',
  currency: 'text',
  trip_miles: 'int4',
  trip_miles_estimated: 'bool',
  rate_per_mile_cents: 'int4',
  tarps: 'bool',
  hazmat: 'bool',
  twic: 'bool',
  team_drivers: 'bool',
  open_bids: 'int4',
  bid_count: 'int4',
  carrier_id: 'uuid',
  carrier_org_id: 'uuid',
  booked_rate_cents: 'int4',
  driver_id: 'uuid',
  truck_id: 'text',
  posted_at: 'timestamptz',
  expires_at: 'timestamptz',
  booked_at: 'timestamptz',
  picked_up_at: 'timestamptz',
  delivered_at: 'timestamptz',
  arrived_pickup_at: 'timestamptz',
  arrived_delivery_at: 'timestamptz',
  review_reason: 'text',
  flagged_at: 'timestamptz',
  updated_at: 'timestamptz',
  pos_commit: 'numeric',
  pos_prepare: 'numeric',
});

/** A status change, for `GET /loads/:id`'s history. */
export interface HistoryRow {
  load_id: string;
  revision: string;
  event_type: string;
  status: BoardStatus;
  at: Date;
  actor: string | null;
}

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
export function evolveRow(row: BoardRow | undefined, e: LoadEvent, revision: bigint, at: Date, shipperName: string | null, position: Position): BoardRow | undefined {
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
      return { ...next, status: 'booked', carrier_id: e.data.carrierId, carrier_org_id: e.data.carrierOrgId, booked_rate_cents: e.data.rateCents, booked_at: e.data.bookedAt };
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
      return e.data.site === 'pickup' ? { ...next, arrived_pickup_at: e.data.arrivedAt } : { ...next, arrived_delivery_at: e.data.arrivedAt };
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
