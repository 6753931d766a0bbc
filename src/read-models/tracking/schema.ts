import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

/** One row per ping, keyed so a replayed ping changes nothing and a late one lands in its place in time. */
export const TRACK_POINTS = defineTable(
  'track_points',
  {
    load_id: col.uuid(),
    recorded_at: col.timestamptz(),
    ping_id: col.uuid(),
    lat: col.float8(),
    lng: col.float8(),
    speed_mph: col.float8(),
    heading_deg: col.float8().nullable(),
    accuracy_m: col.float8().nullable(),
    received_at: col.timestamptz(),
    position: col.text(),
  },
  { primary: ['load_id', 'recorded_at', 'ping_id'] },
);
export type TrackRow = RowOf<typeof TRACK_POINTS.spec>;
