import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

/** One row per stream: its category, last revision and last event. */
export const STREAM_INDEX = defineTable('stream_index', {
  stream_id: col.text().primary(),
  category: col.text(),
  last_revision: col.int8(),
  last_event_type: col.text(),
  last_position: col.text(),
  first_event_at: col.timestamptz(),
  last_event_at: col.timestamptz(),
});
export type StreamIndexRow = RowOf<typeof STREAM_INDEX.spec>;
