import type { Knex } from 'knex';

/*
 * Retention's delete joins on the track's key, which only this read model should know. The track's
 * read (`trackOf`) still sits beside its projector in history-projector.ts.
 */

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
