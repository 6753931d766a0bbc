import type { Knex } from 'knex';
import { formatPosition } from '../../eventstore/position.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import { upsertRows } from '../../projections/sql/rows.js';
import type { PostgresProjector, TableNames } from '../../projections/types.js';
import { STREAM_INDEX, type StreamIndexRow } from './schema.js';

export type { StreamIndexRow } from './schema.js';

/** Keeps the newest event per stream: several events of one stream in a batch make one write. */
export function streamChanges(events: readonly RecordedEvent[]): StreamIndexRow[] {
  const latest = new Map<string, { first: RecordedEvent; last: RecordedEvent }>();
  for (const e of events) {
    const seen = latest.get(e.streamId);
    if (!seen) latest.set(e.streamId, { first: e, last: e });
    else if (e.revision > seen.last.revision) seen.last = e;
  }
  return [...latest.values()].map(({ first, last }) => ({
    stream_id: last.streamId,
    category: last.streamId.slice(0, last.streamId.indexOf('-')),
    last_revision: last.revision.toString(),
    last_event_type: last.type,
    last_position: formatPosition(last.position),
    first_event_at: first.createdAt,
    last_event_at: last.createdAt,
  }));
}

/**
 * The stream directory: one row per stream with its category, last revision and last event, for
 * operators and auditors browsing the log. Rows carry the revision and writes are guarded by it,
 * so replaying events changes nothing.
 */
export const streamIndexProjector: PostgresProjector = {
  kind: 'postgres',
  name: 'stream_index',
  version: 1,
  eventTypes: 'all',
  tables: [STREAM_INDEX.name],

  async setup(trx: Knex.Transaction, t: TableNames) {
    await STREAM_INDEX.create(trx, t, (table) => table.index(['category', 'last_event_at']));
  },

  async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames) {
    await upsertRows(trx, t('stream_index'), STREAM_INDEX.columns, streamChanges(events), {
      key: ['stream_id'],
      onConflict: 'update',
      update: ['last_revision', 'last_event_type', 'last_position', 'last_event_at'],
      guard: { column: 'last_revision', op: '<' },
    });
  },
};
