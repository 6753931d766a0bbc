import type { Knex } from 'knex';
import { comparePositions } from '../eventstore/position.js';
import type { EventStore, Position, RecordedEvent, Subscription } from '../eventstore/types.js';
import type { Logger } from '../infra/logger.js';
import type { Checkpoints } from './checkpoints.js';
import type { ProjectorLeases } from './lease.js';
import type { ParkedEvents } from './parked.js';
import type { ProgressAnnouncer } from './progress.js';
import type { TableStatistics } from './statistics.js';
import type { PoisonPolicy, Projector } from './types.js';

/** `standby`: another process holds this projector's lease; this one takes over if that one dies. */
export type ProjectorState = 'starting' | 'running' | 'standby' | 'rebuilding' | 'failed' | 'stopped';

/** A projector as the runner keeps it, from one run of its loop to the next. */
export interface Worker {
  projector: Projector;
  state: ProjectorState;
  subscription?: Subscription;
  done?: Promise<void>;
  lastError: string | null;
  /** restart() while it is stopped on a poison event: try that event again. */
  retryPoison?: boolean;
}

/** What a projector's loop takes from the runner that runs it (its options with their defaults filled in). */
export interface LoopContext {
  readonly knex: Knex;
  readonly store: EventStore;
  readonly logger: Logger;
  readonly leases: ProjectorLeases | undefined;
  readonly checkpoints: Checkpoints;
  readonly parked: ParkedEvents;
  readonly announcer: ProgressAnnouncer;
  /** Analyzes live tables that grew by a large share (autovacuum may be off). */
  readonly statistics: TableStatistics;
  readonly batchSize: number;
  readonly skipCheckpointMs: number;
  readonly maxAttempts: number;
  readonly leaseRetryMs: number;
  readonly stoppedPollMs: number;
  /** True once the runner stops. */
  stopped(): boolean;
  /** Aborted when the runner stops (each start makes a new one once the last was used). */
  signal(): AbortSignal;
  policyOf(p: Projector): PoisonPolicy;
}

/** How far a batch takes its projector: its last event, or the mark of skipped events past it. */
export function reachedBy(events: readonly RecordedEvent[], skippedTo?: Position): Position | undefined {
  const last = events[events.length - 1]?.position;
  return skippedTo && (!last || comparePositions(skippedTo, last) > 0) ? skippedTo : last;
}

/** After a batch committed: announce the checkpoint (at least here; less than it is is harmless), then tell dashboards. */
export async function committed(
  ctx: LoopContext,
  p: Projector,
  generation: number,
  events: readonly RecordedEvent[],
  applied: readonly RecordedEvent[],
  skippedTo?: Position,
): Promise<void> {
  announce(ctx, p, generation, events, skippedTo);
  await tell(ctx, p, applied);
}

/** Tells read-your-writes waits that the projector's checkpoint moved past the batch. */
export function announce(
  ctx: LoopContext,
  p: Projector,
  generation: number,
  events: readonly RecordedEvent[],
  skippedTo?: Position,
): void {
  const reached = reachedBy(events, skippedTo);
  if (reached) ctx.announcer.moved(p.name, generation, reached);
}

/** The applied events are readable: now dashboards may hear of them (never of data they cannot read yet). */
export async function tell(ctx: LoopContext, p: Projector, applied: readonly RecordedEvent[]): Promise<void> {
  if (applied.length && p.afterCommit) {
    await p
      .afterCommit(applied)
      .catch((err: unknown) => ctx.logger.warn('projector notification failed', { projector: p.name, err }));
  }
}

/** Sleeps, but wakes at once when the runner stops. */
export function pause(ctx: LoopContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const signal = ctx.signal();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
