import type { Job } from 'bullmq';
import type { Knex } from 'knex';
import type { CarrierService } from '../../application/carriers.js';
import { reactingTo, systemActor } from '../../application/invocation.js';
import type { LoadService } from '../../application/loads.js';
import { type LoadEvent, loadEvents } from '../../domain/load/events.js';
import { loadIdOf } from '../../domain/load/stream.js';
import { RuleViolation } from '../../domain/shared/errors.js';
import type { EventStore } from '../../eventstore/types.js';
import { type DuePosting, postingsDue } from '../../read-models/load-board/queries.js';
import type { CausedBy } from '../queues.js';
import { eventAt, readModelMissing } from './events.js';

export const EXPIRY_ACTOR = 'system:load-expiry';
const SYSTEM = systemActor(EXPIRY_ACTOR);
/** Who the carrier stream's events say recorded an outcome. */
export const PERFORMANCE_ACTOR = 'system:carrier-performance';

/** Scores the carrier for the delivery or released booking that caused the job. */
export function performanceProcessor(deps: {
  store: EventStore;
  loads: Pick<LoadService, 'state'>;
  carriers: Pick<CarrierService, 'recordOutcome'>;
}) {
  return async (job: Job<CausedBy>) => {
    const e = await eventAt(deps.store, job.data.streamId, job.data.revision);
    // The load as it stood just before the event: its booking and delivery window.
    const before = await deps.loads.state(loadIdOf(e.streamId), e.revision - 1n);
    const event = { type: e.type, data: loadEvents.decode(e) } as LoadEvent;
    // The outcome's event id derives from the load event's: a job run twice records it once.
    const by = reactingTo(e, systemActor(PERFORMANCE_ACTOR), `outcome:${e.id}`);
    return { result: await deps.carriers.recordOutcome(before, event, by) };
  };
}

/**
 * Expires postings whose time is up. Expiry is caused by the clock, not by an event, so instead
 * of one delayed job per posting (Redis memory for every live posting, rescheduled on every
 * revision) a scheduled job asks the board which postings are due, a page at a time, and sends
 * each ExpireLoad; the decider checks the stream itself, so a board that lags expires nothing
 * early, and a posting already booked or expired is left as is.
 */
export function expirySweeper(deps: { loads: Pick<LoadService, 'run'>; knex: Knex; page?: number }) {
  return async (job: Job) => {
    let due: DuePosting[];
    try {
      due = await postingsDue(deps.knex, new Date(), deps.page ?? 2_000);
    } catch (err) {
      if (readModelMissing(err)) return { due: 0, expired: 0, note: 'the load board is not built yet' };
      throw err;
    }
    let expired = 0;
    const queue = [...due];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let d = queue.shift(); d; d = queue.shift()) {
          try {
            const r = await deps.loads.run(
              d.loadId,
              { type: 'ExpireLoad', data: {} },
              { actor: SYSTEM, idempotencyKey: `expire:${d.expiresAt.toISOString()}`, causationId: `${job.id}` },
            );
            expired += r.events.length;
          } catch (err) {
            // Revised to end later since the board was written: its new end is not here yet.
            if (!(err instanceof RuleViolation) || err.type !== 'urn:freight:problem:not-due') throw err;
          }
        }
      }),
    );
    return { due: due.length, expired };
  };
}
