import type { Knex } from 'knex';
import { z } from 'zod';
import { parsePosition } from '../eventstore/position.js';
import type { Position } from '../eventstore/types.js';
import type { ProjectionProgress } from '../projections/progress.js';
import { HttpProblem, PROBLEM_BASE } from './errors.js';

export interface ReadDeps {
  knex: Knex;
  /** Where `?minPosition=` reads wait (one per process, shared by every request). */
  progress: ProjectionProgress;
  /** Longest a ?minPosition= read waits before answering 503. */
  minPositionWaitMs: number;
}

export const minPositionQuery = z.string().optional().meta({
  description: 'Wait until the read model has applied the event at this position (the `position` of a command answer)',
});

/**
 * Waits until the named projection has applied every event it handles up to `minPosition`, so a
 * client reads its own write; or answers 503 after `minPositionWaitMs`. Never earlier: see
 * ProjectionProgress (it waits without polling, woken by the projectors' checkpoint notifications).
 */
export async function readAfter(deps: ReadDeps, projection: string, minPosition: string | undefined): Promise<void> {
  if (!minPosition) return;
  let target: Position;
  try {
    target = parsePosition(minPosition);
  } catch {
    throw new HttpProblem(
      400,
      `${PROBLEM_BASE}bad-min-position`,
      'minPosition must be a position as given in a command answer, e.g. "1234/0"',
    );
  }
  if (!(await deps.progress.until(projection, target, deps.minPositionWaitMs))) {
    throw new HttpProblem(
      503,
      `${PROBLEM_BASE}read-model-behind`,
      `The ${projection} read model has not reached ${minPosition} yet; retry shortly`,
      {
        retryAfterSeconds: 1,
      },
    );
  }
}
