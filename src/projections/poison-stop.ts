import { comparePositions, formatPosition } from '../eventstore/position.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { applyBatch, GenerationChanged, ProjectorFailed } from './apply.js';
import { committed, type LoopContext, pause, type Worker } from './loop-context.js';
import { applyOneByOne, isTransient, type ParkedEvent } from './parked.js';
import type { Projector } from './types.js';

/** Where a poison event is, for the log. */
function where(p: Projector, generation: number, e: RecordedEvent) {
  return {
    projector: p.name,
    generation,
    position: formatPosition(e.position),
    eventId: e.id,
    type: e.type,
    streamId: e.streamId,
  };
}

/**
 * A batch failed in the projector's own code. Its events are applied one at a time to find the
 * one that fails on its own; under 'park' it is recorded and passed, and the projector goes on.
 * Under 'stop' it is recorded as the event the projector stopped on, and the projector waits
 * (state 'failed', not ready) until an operator asks to retry it (applied now, in order) or to
 * skip it (the checkpoint moves past it), or a rebuild's switch makes another generation live.
 */
export async function parkOrStop(ctx: LoopContext, w: Worker, failed: ProjectorFailed): Promise<void> {
  const { knex, logger } = ctx;
  const p = w.projector;
  const generation = failed.generation;
  const r = await applyOneByOne({
    knex,
    checkpoints: ctx.checkpoints,
    parked: ctx.parked,
    projector: p,
    generation,
    events: failed.events,
    live: true,
    policy: ctx.policyOf(p),
    onParked: (e, err) => {
      ctx.announcer.moved(p.name, generation, e.position);
      const message =
        'projector parked an event it cannot apply and went on; retry or skip it at /admin/projections/{name}/parked';
      logger.warn(message, { ...where(p, generation, e), err });
    },
  });
  if (r.applied.length) await committed(ctx, p, generation, r.applied, r.applied);
  if (!r.stoppedAt) return;

  const stop = new StoppedOnPoison(ctx, w, generation, r.stoppedAt.event, r.stoppedAt.error);
  await stop.record(r.stoppedAt.attempts);
  const message = 'projector stopped on an event it cannot apply; retry or skip it at /admin/projections/{name}/parked';
  logger.error(message, { ...stop.where(), err: stop.error });
  await stop.awaitOperator();
}

/** A projector stopped on an event it cannot apply, until an operator retries or skips it. */
class StoppedOnPoison {
  constructor(
    private readonly ctx: LoopContext,
    private readonly w: Worker,
    private readonly generation: number,
    private readonly event: RecordedEvent,
    /** Why the event fails: its first error, then its last retry's. */
    public error: unknown,
  ) {}

  where() {
    return where(this.w.projector, this.generation, this.event);
  }

  /** Parks the event as the one it stopped on, and says so in the projector's state ('failed': not ready). */
  async record(attempts: number): Promise<void> {
    const { projector: p } = this.w;
    const { event, error, generation } = this;
    await this.ctx.parked.park(this.ctx.knex, p.name, generation, event, error, attempts, 'stopped');
    const reason = error instanceof Error ? error.message : String(error);
    const message = `${p.name} stopped at ${formatPosition(event.position)} (${event.type} in ${event.streamId}), which it cannot apply: ${reason}`;
    this.w.state = 'failed';
    this.w.lastError = message;
    await this.ctx.checkpoints.recordError(p.name, generation, message).catch(() => {});
  }

  /** Looks now and then for the operator's answer; ends when the event is retried or skipped, or it is no longer this process's to wait. */
  async awaitOperator(): Promise<void> {
    for (;;) {
      await pause(this.ctx, this.ctx.stoppedPollMs);
      const row = await this.stillStopped();
      if (!row) return;
      const retry = row.status === 'retrying' || this.w.retryPoison;
      this.w.retryPoison = false;
      if (retry && (await this.retry())) return;
      if (!retry && row.status === 'skipping') return this.skip();
    }
  }

  /** The parked row of the event, while this process still waits on it: not once the runner stops or the lease is lost. */
  private async stillStopped(): Promise<ParkedEvent | undefined> {
    const name = this.w.projector.name;
    if (this.ctx.stopped()) return undefined;
    if (this.ctx.leases && !this.ctx.leases.holds(name)) return undefined;
    const row = await this.ctx.parked.get(name, this.event.id);
    // Gone with its generation (a rebuild switched): start again from the live one.
    if (!row || row.generation !== this.generation) return undefined;
    return row;
  }

  /** Applies the event now, as an operator asked: true once applied; false, recorded again, if it still fails. */
  private async retry(): Promise<boolean> {
    const { knex, checkpoints, parked, logger } = this.ctx;
    const { projector: p } = this.w;
    const { event, generation } = this;
    try {
      const applied = await applyBatch(knex, checkpoints, p, generation, [event], { live: true });
      await parked.setStatus(knex, p.name, generation, event.id, 'retried');
      await committed(this.ctx, p, generation, [event], applied);
      logger.info('projector applied the event it had stopped on, as an operator asked, and goes on', this.where());
      this.goOn();
      return true;
    } catch (err) {
      if (!(err instanceof ProjectorFailed) || isTransient(err.cause)) throw err;
      this.error = err.cause;
      await this.record(1);
      logger.error('projector still cannot apply the event it stopped on', { ...this.where(), err: this.error });
      return false;
    }
  }

  /** Moves the checkpoint past the event (unless it already is), as an operator asked. */
  private async skip(): Promise<void> {
    const { knex, checkpoints, parked } = this.ctx;
    const { name } = this.w.projector;
    const { event, generation } = this;
    await knex.transaction(async (trx) => {
      if ((await checkpoints.lockLive(trx, name)) !== generation) throw new GenerationChanged(name);
      const gen = await checkpoints.generation(name, generation, trx);
      const behind = !gen?.checkpoint || comparePositions(gen.checkpoint, event.position) < 0;
      if (behind) await checkpoints.advance(trx, name, generation, event.position, 0);
      await parked.setStatus(trx, name, generation, event.id, 'skipped');
    });
    this.ctx.announcer.moved(name, generation, event.position);
    this.ctx.logger.warn(
      'projector skipped the event it had stopped on, as an operator asked, and goes on',
      this.where(),
    );
    this.goOn();
  }

  private goOn(): void {
    this.w.state = 'running';
    this.w.lastError = null;
  }
}
