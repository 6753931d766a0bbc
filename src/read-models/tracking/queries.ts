import type { Knex } from 'knex';

// What routes and retention ask of a load's track (track_points, written by history-projector.ts).

/**
 * Deletes up to `limit` track points recorded before `before` and answers how many went. The
 * subquery's limit keeps each statement short, since a delete has no LIMIT of its own; fewer than
 * `limit` means none are left.
 */
export async function deleteTrackPointsBefore(knex: Knex, before: Date, limit: number): Promise<number> {
  const n = (await knex.raw(
    `delete from track_points t using (select load_id, recorded_at, ping_id from track_points where recorded_at < ? limit ?) d
      where t.load_id = d.load_id and t.recorded_at = d.recorded_at and t.ping_id = d.ping_id`,
    [before, limit],
  )) as { rowCount: number | null };
  return n.rowCount ?? 0;
}

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
export async function trackOf(
  knex: Knex,
  loadId: string,
  range: { from?: Date; to?: Date; maxPoints: number },
): Promise<{ points: TrackPoint[]; total: number }> {
  const q = knex('track_points').where('load_id', loadId);
  if (range.from) q.where('recorded_at', '>=', range.from);
  if (range.to) q.where('recorded_at', '<=', range.to);
  const inner = q.select(
    '*',
    knex.raw('row_number() over (order by recorded_at, ping_id) as rn'),
    knex.raw('count(*) over () as n'),
  );
  const rows = (await knex
    .select('*')
    .from(inner.as('p'))
    .whereRaw('(rn - 1) % greatest(1, ceil((n - 1)::numeric / ?))::bigint = 0 or rn = n', [
      Math.max(1, range.maxPoints - 1),
    ])
    .orderBy('rn')) as {
    ping_id: string;
    lat: number;
    lng: number;
    speed_mph: number;
    heading_deg: number | null;
    accuracy_m: number | null;
    recorded_at: Date;
    n: string;
  }[];
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
