import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

/**
 * Postgres search's table: the board's columns its filters and visibility rules read (named as on
 * the board), the text searched (`body`) and its stemmed vector (`tsv`).
 */
export const LOAD_SEARCH = defineTable('load_search', {
  load_id: col.uuid().primary(),
  // A number, as the search documents carry it (Meilisearch's too).
  revision: col.int8<number>(),
  status: col.text(),
  shipper_org_id: col.uuid(),
  carrier_org_id: col.uuid().nullable(),
  commodity: col.text(),
  body: col.text(),
  equipment_type: col.text(),
  load_size: col.text(),
  origin_state: col.text(),
  dest_state: col.text(),
  origin_lat: col.float8(),
  origin_lng: col.float8(),
  dest_lat: col.float8(),
  dest_lng: col.float8(),
  length_ft: col.float8(),
  pickup_from: col.timestamptz(),
  pickup_to: col.timestamptz(),
  posted_at: col.timestamptz(),
  weight_lb: col.int4(),
  rate_cents: col.int4(),
  rate_per_mile_cents: col.int4(),
  trip_miles: col.int4(),
  tsv: col.generated('tsvector', `to_tsvector('english', commodity || ' ' || body)`),
});
export type SearchRow = RowOf<typeof LOAD_SEARCH.spec>;
