import type { Job, Queue } from 'bullmq';
import type { Knex } from 'knex';
import { carrierIdsAfter } from '../../read-models/carrier-directory/queries.js';
import { PRIORITY } from '../queues.js';
import { readModelMissing } from './events.js';
import type { VerificationJob } from './verification.js';

const PAGE = 1_000;

/**
 * The daily re-check: walks the carrier directory in pages and queues one verification per
 * carrier at a low priority, so carriers waiting to be verified for the first time go first and
 * the rate limit spreads the rest out. The job id names the day: a re-run adds nothing twice.
 */
export function recheckProcessor(deps: { knex: Knex; verification: Queue }) {
  return async (job: Job<{ day?: string }>) => {
    const day = job.data.day ?? new Date(job.timestamp).toISOString().slice(0, 10);
    let after = '00000000-0000-0000-0000-000000000000';
    let queued = 0;
    for (;;) {
      let rows: string[];
      try {
        rows = await carrierIdsAfter(deps.knex, after, PAGE);
      } catch (err) {
        // A fresh deployment whose directory is not built yet has no carriers to re-check.
        if (readModelMissing(err)) break;
        throw err;
      }
      if (!rows.length) break;
      await deps.verification.addBulk(
        rows.map((carrierId) => ({
          name: 'recheck',
          data: { carrierId, reason: 'recheck', causationId: `${job.id}` } satisfies VerificationJob,
          opts: { jobId: `recheck-${day}-${carrierId}`, priority: PRIORITY.recheck },
        })),
      );
      queued += rows.length;
      after = rows[rows.length - 1]!;
      await job.updateProgress(queued);
    }
    return { day, queued };
  };
}
