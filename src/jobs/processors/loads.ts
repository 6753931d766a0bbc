import type { Job } from 'bullmq';
import type { Knex } from 'knex';
import { recordOutcome } from '../../application/carrier-performance.js';
import { handle } from '../../application/handle.js';
import * as load from '../../domain/load/decider.js';
import { loadEvents } from '../../domain/load/events.js';
import { RuleViolation } from '../../domain/shared/errors.js';
import type { EventStore } from '../../eventstore/types.js';
import type { CausedBy } from '../queues.js';
import { eventAt, readModelMissing } from './events.js';
import { loadStream } from '../../domain/load/stream.js';

export const EXPIRY_ACTOR = 'system:load-expiry';
const SYSTEM = { userId: EXPIRY_ACTOR, orgId: EXPIRY_ACTOR, roles: [] } as const;

/** Scores the carrier for the delivery or released booking that caused the job. */
export function performanceProcessor(store: EventStore) {
  return async (job: Job<CausedBy>) => ({ result: await recordOutcome(store, await eventAt(store, job.data.streamId, job.data.revision)) });
}

/**
 * Expires postings whose time is up. Expiry is caused by the clock, not by an event, so instead
 * of one delayed job per posting (Redis memory for every live posting, rescheduled on every
 * revision) a scheduled job asks the board which postings are due, a page at a time, and sends
 * each ExpireLoad; the decider checks the stream itself, so a board that lags expires nothing
 * early, and a posting already booked or expired is left as is.
 */
export function expirySweeper(deps: { store: EventStore; knex: Knex; page?: number }) {
  return async (job: Job) => {
    let due: { load_id: string; expires_at: Date }[];
    try {
      due = await deps.knex('load_board')
        .where({ status: 'posted' })
        .where('expires_at', '<=', new Date())
        .orderBy('expires_at')
        .limit(deps.page ?? 2_000)
        .select<{ load_id: string; expires_at: Date }[]>('load_id', 'expires_at');
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
            const r = await handle({ store: deps.store, registry: loadEvents }, loadStream(d.load_id), load, { type: 'ExpireLoad', data: {}, metadata: { now: new Date(), actor: SYSTEM } }, {
              idempotencyKey: `expire:${d.expires_at.toISOString()}`,
              metadata: { actor: EXPIRY_ACTOR, causationId: `${job.id}` },
            });
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
