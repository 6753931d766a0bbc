import { formatPosition } from '../eventstore/position.js';
import type { Position, RecordedEvent, Subscription } from '../eventstore/types.js';
import { backoff, sleep } from '../eventstore/wakeup.js';
import { tracingEnabled } from '../infra/tracing.js';
import { applyAhead, applyBatch, GenerationChanged, ProjectorFailed, writesAhead } from './apply.js';
import { traceBatch } from './batch-trace.js';
import { type Batch, batches } from './batches.js';
import type { GenerationRow } from './checkpoints.js';
import { setupGeneration, switchLive } from './generations.js';
import { announce, committed, type LoopContext, pause, reachedBy, tell, type Worker } from './loop-context.js';
import { isTransient } from './parked.js';
import { parkOrStop } from './poison-stop.js';
import { rebuildProjection, RebuildInProgress } from './rebuild.js';
import { type Projector, projectorFilter } from './types.js';

/**
 * One run of one projector, from its launch until the runner stops or the projector fails. It
 * carries from batch to batch the attempts at the next one: failed ones since the last batch that
 * committed (or the last poison event handled).
 */
export class ProjectorLoop {
  private attempts = 0;

  constructor(
    private readonly ctx: LoopContext,
    private readonly w: Worker,
  ) {}

  /** One projector's loop, as the sequence of its steps; each pass ends in going round again, a backoff, or the projector failed. */
  async run(): Promise<void> {
    while (!this.ctx.stopped()) {
      try {
        await this.pass();
      } catch (err) {
        if (!(await this.recover(err))) return;
      }
    }
    this.w.state = 'stopped';
  }

  /** Holds the lease, makes the live generation current, then follows $all from its checkpoint until something ends that. */
  private async pass(): Promise<void> {
    if (!(await this.acquireLease())) return;
    const live = await this.prepareGeneration();
    // stop() closes the subscription it can see; one opened after it ran would never end.
    if (!live || this.ctx.stopped()) return;
    await this.follow(live);
  }

  /** Whether this process may run the projector now; if not, it waits as a standby before the loop asks again. */
  private async acquireLease(): Promise<boolean> {
    const leases = this.ctx.leases;
    if (!leases || (await leases.tryAcquire(this.w.projector.name))) return true;
    this.w.state = 'standby';
    await pause(this.ctx, this.ctx.leaseRetryMs);
    return false;
  }

  /**
   * The live generation, when it runs this projector's version. Otherwise it makes the first
   * generation, or rebuilds beside the live one for the new version, and the loop looks again.
   */
  private async prepareGeneration(): Promise<GenerationRow | undefined> {
    const p = this.w.projector;
    await this.ctx.checkpoints.ensure(p.name);
    const live = await this.ctx.checkpoints.liveGeneration(p.name);
    if (!live) {
      await this.initialise(p);
      return undefined;
    }
    if (live.version === p.version) return live;
    await this.rebuildFor(live.version);
    return undefined;
  }

  /** Builds this version beside the live generation, then switches to it (see rebuild.ts). */
  private async rebuildFor(from: number): Promise<void> {
    const p = this.w.projector;
    const { knex, store, logger, checkpoints, batchSize, parked } = this.ctx;
    this.w.state = 'rebuilding';
    logger.info('projector version changed; rebuilding beside the live one', {
      projector: p.name,
      from,
      to: p.version,
    });
    await rebuildProjection({
      knex,
      store,
      checkpoints,
      projector: p,
      logger,
      batchSize,
      signal: this.ctx.signal(),
      parked,
      poisonPolicy: this.ctx.policyOf(p),
    });
  }

  /** Reads $all from the live generation's checkpoint and applies it until the runner stops, the lease goes or the subscription ends. */
  private async follow(live: GenerationRow): Promise<void> {
    this.w.state = 'running';
    const sub = this.ctx.store.subscribeToAll({
      fromPosition: live.checkpoint ?? 'start',
      filter: projectorFilter(this.w.projector),
    });
    this.w.subscription = sub;
    try {
      await this.consume(live, sub);
    } finally {
      this.w.subscription = undefined;
      await sub.close();
    }
  }

  /**
   * Each batch: applied with its checkpoint in one transaction, then announced and notified, then
   * traced. A projector that writes ahead (see applyAhead) tells dashboards as soon as its writes
   * are made, before its checkpoint moves; the loop keeps that checkpoint, which it alone moves.
   */
  private async consume(live: GenerationRow, sub: Subscription): Promise<void> {
    const p = this.w.projector;
    const generation = live.generation;
    let checkpoint = live.checkpoint;
    let lastWrite = 0;
    for await (const batch of batches(sub.withCheckpoints(), this.ctx.batchSize)) {
      if (!this.mayGoOn(p)) break;
      // Moving the checkpoint past skipped events only matters now and then (it keeps lag
      // counts and re-reads short); doing it for every quiet page would be a write per wake-up.
      if (batch.events.length === 0 && Date.now() - lastWrite < this.ctx.skipCheckpointMs) continue;
      const started = tracingEnabled() ? Date.now() : 0;
      const applied = await this.applyLive(p, generation, batch, started, checkpoint);
      lastWrite = Date.now();
      if (writesAhead(p)) {
        announce(this.ctx, p, generation, batch.events, batch.skippedTo);
        checkpoint = reachedBy(batch.events, batch.skippedTo) ?? checkpoint;
      } else await committed(this.ctx, p, generation, batch.events, applied, batch.skippedTo);
      traceBatch(p.name, applied, started);
      await this.ctx.statistics.applied(p, generation, applied.length);
      this.attempts = 0;
      this.w.lastError = null;
    }
  }

  /** Whether to apply the next batch: not once the runner stops or the lease is lost. */
  private mayGoOn(p: Projector): boolean {
    if (this.ctx.stopped()) return false;
    // The lease went with its connection: another process may run this projector now.
    return !this.ctx.leases || this.ctx.leases.holds(p.name);
  }

  /** Applies a batch and moves the checkpoint, in one transaction or writing ahead of it (see apply.ts); a failed batch's spans carry its error. */
  private async applyLive(
    p: Projector,
    generation: number,
    { events, skippedTo }: Batch,
    started: number,
    checkpoint: Position | undefined,
  ): Promise<readonly RecordedEvent[]> {
    try {
      if (writesAhead(p))
        return await applyAhead(this.ctx.checkpoints, p, generation, events, {
          ...(checkpoint ? { after: checkpoint } : {}),
          ...(skippedTo ? { skippedTo } : {}),
          written: (applied) => tell(this.ctx, p, applied),
        });
      return await applyBatch(this.ctx.knex, this.ctx.checkpoints, p, generation, events, { live: true, skippedTo });
    } catch (err) {
      traceBatch(p.name, events, started, err);
      throw err;
    }
  }

  /**
   * A pass failed: go round again at once (stopping, or another generation went live), after a while
   * (a rebuild holds the projection), once the poison event is parked or stopped on, or after a
   * backoff. False when the projector has failed for good.
   */
  private async recover(caught: unknown): Promise<boolean> {
    if (this.ctx.stopped() || caught instanceof GenerationChanged) return true;
    if (caught instanceof RebuildInProgress) {
      await sleep(1_000);
      return true;
    }
    // The projector's own code failed, and not for want of a connection: find the event, then park it or stop on it.
    if (!(caught instanceof ProjectorFailed) || isTransient(caught.cause)) return this.backOff(caught);
    try {
      await parkOrStop(this.ctx, this.w, caught);
      this.attempts = 0;
      return true;
    } catch (inner) {
      if (this.ctx.stopped() || inner instanceof GenerationChanged) return true;
      return this.backOff(inner);
    }
  }

  /** Records the error, then waits before the next attempt; after the last, the projector stops (false) until restarted. */
  private async backOff(err: unknown): Promise<boolean> {
    const { projector: p } = this.w;
    const logger = this.ctx.logger;
    this.attempts++;
    const message = err instanceof Error ? err.message : String(err);
    this.w.lastError = message;
    const live = await this.ctx.checkpoints.liveGeneration(p.name).catch(() => undefined);
    if (live) await this.ctx.checkpoints.recordError(p.name, live.generation, message).catch(() => {});
    if (this.attempts >= this.ctx.maxAttempts) {
      this.w.state = 'failed';
      logger.error('projector stopped; it resumes from its checkpoint when restarted', {
        projector: p.name,
        checkpoint: live?.checkpoint ? formatPosition(live.checkpoint) : null,
        err,
      });
      return false;
    }
    logger.warn('projector batch failed; retrying from the checkpoint', {
      projector: p.name,
      attempt: this.attempts,
      err,
    });
    await sleep(backoff(this.attempts, 100, 5_000));
    return true;
  }

  /** The first generation of a projector: live from the start, filled from history as it goes. */
  private async initialise(p: Projector): Promise<void> {
    await this.ctx.knex.transaction(async (trx) => {
      if ((await this.ctx.checkpoints.lockLive(trx, p.name)) !== null) return;
      const g = await this.ctx.checkpoints.create(trx, p.name, p.version, 'live');
      await setupGeneration(trx, p, g);
      await switchLive(trx, this.ctx.checkpoints, p, g, null);
    });
  }
}
