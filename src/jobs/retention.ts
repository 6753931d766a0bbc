import type { Knex } from 'knex';
import type { EventStore } from '../eventstore/types.js';
import type { Logger } from '../infra/logger.js';
import { TRACKING_STREAM } from '../domain/tracking/stream.js';
import { deleteTrackPointsBefore } from '../read-models/tracking/queries.js';

const DAY_MS = 86_400_000;
/** Track rows deleted per statement: short transactions, as for the events. */
const BATCH = 5_000;

/**
 * GPS retention: pings older than `days` are deleted from the log (Postgres; EventStoreDB expires
 * them by the streams' $maxAge) and from the track history read model, so that a rebuild and the
 * live table agree. The loads keep who hauled them and when; only the fixes go.
 */
export async function pruneTracking(
  deps: { store: EventStore; knex: Knex },
  days: number,
  now = new Date(),
): Promise<{ events: number; points: number }> {
  const before = new Date(now.getTime() - days * DAY_MS);
  const events = await deps.store.deleteOlderThan({ streamPrefix: TRACKING_STREAM, before });
  let points = 0;
  for (;;) {
    const n = await deleteTrackPointsBefore(deps.knex, before, BATCH);
    points += n;
    if (n < BATCH) break;
  }
  return { events, points };
}

/** Runs the retention now and then every `intervalMs`, until stopped; failures are logged and retried next time. */
export function startTrackingRetention(
  deps: { store: EventStore; knex: Knex; logger: Logger },
  days: number,
  intervalMs = 3_600_000,
): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = pruneTracking(deps, days)
      .then((r) => {
        if (r.events || r.points) deps.logger.info('tracking retention ran', { days, ...r });
      })
      .catch((err: unknown) => {
        deps.logger.warn('tracking retention failed; it runs again later', { err });
      });
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
