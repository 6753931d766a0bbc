import type { Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { comparePositions, parsePosition } from '../eventstore/position.js';
import type { EventStore, Position } from '../eventstore/types.js';
import { Checkpoints } from '../projections/checkpoints.js';
import { type Projector, projectorFilter } from '../projections/types.js';
import { HttpProblem, PROBLEM_BASE } from './errors.js';

export interface ReadDeps {
  knex: Knex;
  store: EventStore;
  projectors: readonly Projector[];
  /** Longest a ?minPosition= read waits before answering 503. */
  minPositionWaitMs: number;
}

export const minPositionQuery = z
  .string()
  .optional()
  .meta({ description: 'Wait until the read model has applied the event at this position (the `position` of a command answer)' });

/**
 * Waits until the named projection has applied every event it handles up to `minPosition`, so a
 * client reads its own write; or answers 503 after `minPositionWaitMs`. Never earlier: its
 * checkpoint moves only with events it handles, so it is also caught up when no event it handles
 * lies between its checkpoint and the target and no append still in flight could land there (the
 * store answers that from committed events, not from what subscribers may read yet).
 */
export async function readAfter(deps: ReadDeps, projection: string, minPosition: string | undefined): Promise<void> {
  if (!minPosition) return;
  let target: Position;
  try {
    target = parsePosition(minPosition);
  } catch {
    throw new HttpProblem(400, `${PROBLEM_BASE}bad-min-position`, 'minPosition must be a position as given in a command answer, e.g. "1234/0"');
  }
  const projector = deps.projectors.find((p) => p.name === projection);
  if (!projector) throw new Error(`No projector ${projection}`);
  const checkpoints = new Checkpoints(deps.knex);
  const filter = projectorFilter(projector);
  const deadline = Date.now() + deps.minPositionWaitMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 50)) {
    const cp = (await checkpoints.liveGeneration(projection))?.checkpoint ?? undefined;
    if (cp && comparePositions(cp, target) >= 0) return;
    if (await deps.store.caughtUp(cp, target, filter)) return;
    if (Date.now() >= deadline) {
      throw new HttpProblem(503, `${PROBLEM_BASE}read-model-behind`, `The ${projection} read model has not reached ${minPosition} yet; retry shortly`, {
        retryAfterSeconds: 1,
      });
    }
    await sleep(pause);
  }
}
