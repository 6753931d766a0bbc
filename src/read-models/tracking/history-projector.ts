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

export interface TrackPoint {
  pingId: string;
  lat: number;
  lng: number;
  speedMph: number;
  headingDeg: number | null;
  accuracyM: number | null;
  recordedAt: Date;
}

/**
 * A load's track between two times, oldest first. Longer than `maxPoints`, it is thinned to every
 * n-th point, always keeping the first and the last.
 */
export async function trackOf(knex: Knex, loadId: string, range: { from?: Date; to?: Date; maxPoints: number }): Promise<{ points: TrackPoint[]; total: number }> {
  const q = knex('track_points').where('load_id', loadId);
  if (range.from) q.where('recorded_at', '>=', range.from);
  if (range.to) q.where('recorded_at', '<=', range.to);
  const inner = q.select('*', knex.raw('row_number() over (order by recorded_at, ping_id) as rn'), knex.raw('count(*) over () as n'));
  const rows = (await knex
    .select('*')
    .from(inner.as('p'))
    .whereRaw('(rn - 1) % greatest(1, ceil((n - 1)::numeric / ?))::bigint = 0 or rn = n', [Math.max(1, range.maxPoints - 1)])
    .orderBy('rn')) as { ping_id: string; lat: number; lng: number; speed_mph: number; heading_deg: number | null; accuracy_m: number | null; recorded_at: Date; n: string }[];
  return {
    total: rows.length ? Number(rows[0]!.n) : 0,
    points: rows.map((r) => ({
      pingId: r.ping_id,
      lat: r.lat,
      lng: r.lng,
      speedMph: r.speed_mph,
      headingDeg: r.heading_deg,
      accuracyM: r.accuracy_m,
      recordedAt: r.recorded_at,
    })),
  };
}
