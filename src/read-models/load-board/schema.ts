import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

export type BoardStatus =
  'posted' | 'booked' | 'assigned' | 'picked_up' | 'in_transit' | 'delivered' | 'cancelled' | 'expired';
export const BOARD_STATUSES: readonly BoardStatus[] = [
  'posted',
  'booked',
  'assigned',
  'picked_up',
  'in_transit',
  'delivered',
  'cancelled',
  'expired',
];

/** One row per load: the load denormalized for filtering and display (no JSON columns). */
export const LOAD_BOARD = defineTable('load_board', {
  load_id: col.uuid().primary(),
  revision: col.int8(),
  status: col.text<BoardStatus>(),
  shipper_org_id: col.uuid(),
  shipper_name: col.text().nullable(),
  reference: col.text(),
  commodity: col.text(),
  description: col.text(),
  weight_lb: col.int4(),
  length_ft: col.float8(),
  equipment_type: col.text(),
  load_size: col.text(),
  origin_address: col.text(),
  origin_city: col.text(),
  origin_state: col.text(),
  origin_zip: col.text(),
  origin_lat: col.float8(),
  origin_lng: col.float8(),
  dest_address: col.text(),
  dest_city: col.text(),
  dest_state: col.text(),
  dest_zip: col.text(),
  dest_lat: col.float8(),
  dest_lng: col.float8(),
  pickup_from: col.timestamptz(),
  pickup_to: col.timestamptz(),
  delivery_from: col.timestamptz(),
  delivery_to: col.timestamptz(),
  rate_cents: col.int4(),
  currency: col.text(),
  trip_miles: col.int4(),
  trip_miles_estimated: col.bool(),
  rate_per_mile_cents: col.int4(),
  tarps: col.bool(),
  hazmat: col.bool(),
  twic: col.bool(),
  team_drivers: col.bool(),
  open_bids: col.int4(),
  bid_count: col.int4(),
  carrier_id: col.uuid().nullable(),
  carrier_org_id: col.uuid().nullable(),
  booked_rate_cents: col.int4().nullable(),
  driver_id: col.uuid().nullable(),
  truck_id: col.text().nullable(),
  posted_at: col.timestamptz(),
  expires_at: col.timestamptz(),
  booked_at: col.timestamptz().nullable(),
  picked_up_at: col.timestamptz().nullable(),
  delivered_at: col.timestamptz().nullable(),
  /** When the assigned truck's GPS first came within the geofence of each site. */
  arrived_pickup_at: col.timestamptz().nullable(),
  arrived_delivery_at: col.timestamptz().nullable(),
  /** Set when pickup was confirmed without the GPS to back it: why, and when. */
  flagged_at: col.timestamptz().nullable(),
  review_reason: col.text().nullable(),
  /** Global position of the last event applied to the row (numeric text): dashboards resume from it. */
  pos_commit: col.numeric(20, 0),
  pos_prepare: col.numeric(20, 0),
  updated_at: col.timestamptz(),
});
export type BoardRow = RowOf<typeof LOAD_BOARD.spec>;

/** A status change, for `GET /loads/:id`'s history. */
export const LOAD_STATUS_HISTORY = defineTable(
  'load_status_history',
  {
    load_id: col.uuid(),
    revision: col.int8(),
    event_type: col.text(),
    status: col.text<BoardStatus>(),
    at: col.timestamptz(),
    actor: col.text().nullable(),
  },
  { primary: ['load_id', 'revision'] },
);
export type HistoryRow = RowOf<typeof LOAD_STATUS_HISTORY.spec>;

/** Shipper names, kept so a load posted after its shipper registered finds the name. */
export const LB_SHIPPERS = defineTable('lb_shippers', {
  org_id: col.uuid().primary(),
  name: col.text(),
});
