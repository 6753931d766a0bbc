import type { Knex } from 'knex';
import { PingRecorded, trackingEvents } from '../../domain/tracking/events.js';
import { formatPosition } from '../../eventstore/position.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import { upsertRows } from '../../projections/sql/rows.js';
import type { PostgresProjector, TableNames } from '../../projections/types.js';
import { TRACKING_STREAM } from '../../domain/tracking/stream.js';
import { TRACK_POINTS, type TrackRow } from './schema.js';

/**
 * Each load's track: one row per ping, keyed by (load, recorded at, ping), so a replayed ping
 * changes nothing and out-of-order pings land in their place in time.
 */
export const trackHistoryProjector: PostgresProjector = {
  kind: 'postgres',
  name: 'track_history',
  version: 1,
  eventTypes: [PingRecorded.type],
  streamPrefixes: [TRACKING_STREAM],
  tables: [TRACK_POINTS.name],

  async setup(trx: Knex.Transaction, t: TableNames) {
    await TRACK_POINTS.create(trx, t);
  },

  async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames) {
    const rows = events.map((e): TrackRow => {
      const p = trackingEvents.decode(e) as ReturnType<typeof PingRecorded.schema.parse>;
      return {
        load_id: e.streamId.slice(TRACKING_STREAM.length),
        recorded_at: p.recordedAt,
        ping_id: p.pingId,
        lat: p.lat,
        lng: p.lng,
        speed_mph: p.speedMph,
        heading_deg: p.headingDeg ?? null,
        accuracy_m: p.accuracyM ?? null,
        received_at: p.receivedAt,
        position: formatPosition(e.position),
      };
    });
    await upsertRows(trx, t('track_points'), TRACK_POINTS.columns, rows, {
      key: ['load_id', 'recorded_at', 'ping_id'],
      onConflict: 'ignore',
    });
  },
};
