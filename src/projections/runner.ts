import { setMaxListeners } from 'node:events';
import type { Knex } from 'knex';
import { comparePositions, formatPosition } from '../eventstore/position.js';
import type { EventStore, Position, RecordedEvent, Subscription } from '../eventstore/types.js';
import { backoff, sleep } from '../eventstore/wakeup.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { contextFrom, recordSpan, tracingEnabled } from '../infra/tracing.js';
import { applyBatch, GenerationChanged, ProjectorFailed } from './apply.js';
import { type Batch, batches } from './batches.js';
import { Checkpoints, type GenerationRow } from './checkpoints.js';
import { applyOneByOne, isTransient, ParkedEvents } from './parked.js';
import { ProgressAnnouncer } from './progress.js';
import { setupGeneration, switchLive } from './generations.js';
import { rebuildProjection, RebuildInProgress } from './rebuild.js';
import type { ProjectorLeases } from './lease.js';
import { type PoisonPolicy, type Projector, projectorFilter } from './types.js';

/** `standby`: another process holds this projector's lease; this one takes over if that one dies. */
export type ProjectorState = 'starting' | 'running' | 'standby' | 'rebuilding' | 'failed' | 'stopped';

export interface ProjectionStatus {
  name: string;
  version: number;
  state: ProjectorState;
  liveGeneration: number | null;
  liveVersion: number | null;
  checkpoint: string | null;
  head: string | null;
  /** Matching events after the checkpoint, counted up to `lagCap` (EventStoreDB counts by reading). */
  eventsBehind: number;
  /** Events of the live generation it could not apply and an operator has yet to retry or skip. */
  parked: number;
  /** What it does with such an event: 'park' it and go on, or 'stop' on it. */
  onPoison: PoisonPolicy;
  lastError: string | null;
}

interface Worker {
  projector: Projector;
  state: ProjectorState;
  subscription?: Subscription;
  done?: Promise<void>;
  lastError: string | null;
  /** restart() while it is stopped on a poison event: try that event again. */
  retryPoison?: boolean;
}

/** Failed attempts at the projector's next batch, since the last one that committed (or the last poison event handled). */
interface Attempts {
  count: number;
}

/** One signal that every projector's pause listens to (a process has more than ten of them). */
function stopSignal(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/**
 * Runs each projector on its own: reads $all from the live generation's checkpoint in batches
 * and applies them (see apply.ts). A batch that keeps failing for want of a connection (or a lock,
 * or the server) is retried, then the projector stops with its error logged and recorded, while the
 * others go on; restarting resumes it from its checkpoint. A batch its own code fails on is applied
 * an event at a time to find the poison event, which is parked or stopped on by the projector's
 * policy (see `poisoned`). A projector whose code version differs from its live generation is
 * rebuilt beside it, then switched.
 */
export class ProjectionRunner {
  readonly checkpoints: Checkpoints;
  readonly parked: ParkedEvents;
  /** Tells read-your-writes waits (in this process at once, in others while they ask) that a live checkpoint moved. */
  readonly announcer: ProgressAnnouncer;
  private readonly workers = new Map<string, Worker>();
  private stopped = false;
  /** Aborts rebuilds started by version changes when the runner stops. */
  private abort = stopSignal();

  constructor(
    private readonly deps: {
      knex: Knex;
      store: EventStore;
      projectors: readonly Projector[];
      logger: Logger;
      /** The primary, where other processes ask for checkpoint announcements (absent: only this process's waits hear them). */
      databaseUrl?: string;
      batchSize?: number;
      /** Attempts at one batch before the projector stops. */
      maxAttempts?: number;
      lagCap?: number;
      /** At most one checkpoint write per this many ms for batches that only skipped events (default 1,000). */
      skipCheckpointMs?: number;
      /** Run each projector in one process at a time (a lease per projector); absent: run them all here. */
      leases?: ProjectorLeases;
      /** How often a standby asks for a lease (default 2,000 ms). */
      leaseRetryMs?: number;
      /** Poison-event policies by projector name, `*` for the rest (PROJECTION_POISON_POLICY); else each projector's own, else 'park'. */
      poisonPolicy?: Record<string, PoisonPolicy>;
      /** How often a projector stopped on a poison event looks for an operator's retry or skip (default 1,000 ms). */
      stoppedPollMs?: number;
    },
  ) {
    this.checkpoints = new Checkpoints(deps.knex);
    this.parked = new ParkedEvents(deps.knex);
    this.announcer = new ProgressAnnouncer(deps.knex, {
      ...(deps.databaseUrl ? { databaseUrl: deps.databaseUrl } : {}),
      onError: (err) => deps.logger.warn('announcing projection progress failed', { err }),
    });
    const names = new Set<string>();
    for (const p of deps.projectors) {
      if (names.has(p.name)) throw new Error(`Two projectors are named ${p.name}`);
      names.add(p.name);
      this.workers.set(p.name, { projector: p, state: 'stopped', lastError: null });
    }
  }

  /** What `name` does with an event it cannot apply: configured by name, else `*`, else its own choice, else 'park'. */
  policyOf(p: Projector): PoisonPolicy {
    const configured = this.deps.poisonPolicy;
    return configured?.[p.name] ?? configured?.['*'] ?? p.onPoison ?? 'park';
  }

  private get batchSize() {
    return this.deps.batchSize ?? 500;
  }

  private get skipCheckpointMs() {
    return this.deps.skipCheckpointMs ?? 1_000;
  }

  start(): void {
    this.stopped = false;
    this.announcer.start();
    if (this.abort.signal.aborted) this.abort = stopSignal();
    for (const w of this.workers.values()) if (!w.done) this.launch(w);
  }

  /** Starts a stopped or failed projector again; it resumes from its checkpoint (one stopped on a poison event tries that event again). */
  restart(name: string): void {
    const w = this.worker(name);
    if (w.done) {
      if (w.state === 'failed') w.retryPoison = true;
      return;
    }
    this.launch(w);
  }

  private launch(w: Worker): void {
    w.state = 'starting';
    w.done = this.run(w).finally(() => {
      w.done = undefined;
    });
  }

  private worker(name: string): Worker {
    const w = this.workers.get(name);
    if (!w) throw new Error(`No projector named ${name}`);
    return w;
  }

  /** One projector's loop, as the sequence of its steps; each pass ends in going round again, a backoff, or the projector failed. */
  private async run(w: Worker): Promise<void> {
    const attempts: Attempts = { count: 0 };
    while (!this.stopped) {
      try {
        await this.pass(w, attempts);
      } catch (err) {
        if (!(await this.recover(w, err, attempts))) return;
      }
    }
    w.state = 'stopped';
  }

  /** Holds the lease, makes the live generation current, then follows $all from its checkpoint until something ends that. */
  private async pass(w: Worker, attempts: Attempts): Promise<void> {
    if (!(await this.acquireLease(w))) return;
    const live = await this.prepareGeneration(w);
    // stop() closes the subscription it can see; one opened after it ran would never end.
    if (!live || this.stopped) return;
    await this.follow(w, live, attempts);
  }

  /** Whether this process may run the projector now; if not, it waits as a standby before the loop asks again. */
  private async acquireLease(w: Worker): Promise<boolean> {
    const leases = this.deps.leases;
    if (!leases || (await leases.tryAcquire(w.projector.name))) return true;
    w.state = 'standby';
    await this.pause(this.deps.leaseRetryMs ?? 2_000);
    return false;
  }

  /**
   * The live generation, when it runs this projector's version. Otherwise it makes the first
   * generation, or rebuilds beside the live one for the new version, and the loop looks again.
   */
  private async prepareGeneration(w: Worker): Promise<GenerationRow | undefined> {
    const p = w.projector;
    await this.checkpoints.ensure(p.name);
    const live = await this.checkpoints.liveGeneration(p.name);
    if (!live) {
      await this.initialise(p);
      return undefined;
    }
    if (live.version === p.version) return live;
    w.state = 'rebuilding';
    this.deps.logger.info('projector version changed; rebuilding beside the live one', { projector: p.name, from: live.version, to: p.version });
    await this.rebuild(p.name, { signal: this.abort.signal });
    return undefined;
  }

  /** Reads $all from the live generation's checkpoint and applies it until the runner stops, the lease goes or the subscription ends. */
  private async follow(w: Worker, live: GenerationRow, attempts: Attempts): Promise<void> {
    w.state = 'running';
    const sub = this.deps.store.subscribeToAll({ fromPosition: live.checkpoint ?? 'start', filter: projectorFilter(w.projector) });
    w.subscription = sub;
    try {
      await this.consume(w, live.generation, sub, attempts);
    } finally {
      w.subscription = undefined;
      await sub.close();
    }
  }

  /** Each batch: applied with its checkpoint in one transaction, then announced and notified, then traced. */
  private async consume(w: Worker, generation: number, sub: Subscription, attempts: Attempts): Promise<void> {
    const p = w.projector;
    let lastWrite = 0;
    for await (const batch of batches(sub.withCheckpoints(), this.batchSize)) {
      if (!this.mayGoOn(p)) break;
      // Moving the checkpoint past skipped events only matters now and then (it keeps lag
      // counts and re-reads short); doing it for every quiet page would be a write per wake-up.
      if (batch.events.length === 0 && Date.now() - lastWrite < this.skipCheckpointMs) continue;
      const started = tracingEnabled() ? Date.now() : 0;
      const applied = await this.applyLive(p, generation, batch, started);
      lastWrite = Date.now();
      await this.committed(p, generation, batch.events, applied, batch.skippedTo);
      traceBatch(p.name, applied, started);
      attempts.count = 0;
      w.lastError = null;
    }
  }

  /** Whether to apply the next batch: not once the runner stops or the lease is lost. */
  private mayGoOn(p: Projector): boolean {
    if (this.stopped) return false;
    // The lease went with its connection: another process may run this projector now.
    return !this.deps.leases || this.deps.leases.holds(p.name);
  }

  /** Applies a batch and moves the checkpoint in one transaction (see apply.ts); a failed batch's spans carry its error. */
  private async applyLive(p: Projector, generation: number, { events, skippedTo }: Batch, started: number): Promise<readonly RecordedEvent[]> {
    try {
      return await applyBatch(this.deps.knex, this.checkpoints, p, generation, events, { live: true, skippedTo });
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
  private async recover(w: Worker, caught: unknown, attempts: Attempts): Promise<boolean> {
    if (this.stopped || caught instanceof GenerationChanged) return true;
    if (caught instanceof RebuildInProgress) {
      await sleep(1_000);
      return true;
    }
    // The projector's own code failed, and not for want of a connection: find the event, then park it or stop on it.
    if (!(caught instanceof ProjectorFailed) || isTransient(caught.cause)) return this.backOff(w, caught, attempts);
    try {
      await this.poisoned(w, caught);
      attempts.count = 0;
      return true;
    } catch (inner) {
      if (this.stopped || inner instanceof GenerationChanged) return true;
      return this.backOff(w, inner, attempts);
    }
  }

  /** Records the error, then waits before the next attempt; after the last, the projector stops (false) until restarted. */
  private async backOff(w: Worker, err: unknown, attempts: Attempts): Promise<boolean> {
    const { projector: p } = w;
    const logger = this.deps.logger;
    attempts.count++;
    const message = err instanceof Error ? err.message : String(err);
    w.lastError = message;
    const live = await this.checkpoints.liveGeneration(p.name).catch(() => undefined);
    if (live) await this.checkpoints.recordError(p.name, live.generation, message).catch(() => {});
    if (attempts.count >= (this.deps.maxAttempts ?? 5)) {
      w.state = 'failed';
      logger.error('projector stopped; it resumes from its checkpoint when restarted', {
        projector: p.name,
        checkpoint: live?.checkpoint ? formatPosition(live.checkpoint) : null,
        err,
      });
      return false;
    }
    logger.warn('projector batch failed; retrying from the checkpoint', { projector: p.name, attempt: attempts.count, err });
    await sleep(backoff(attempts.count, 100, 5_000));
    return true;
  }

  /** After a batch committed: announce the checkpoint (at least here; less than it is is harmless), then tell dashboards. */
  private async committed(p: Projector, generation: number, events: readonly RecordedEvent[], applied: readonly RecordedEvent[], skippedTo?: Position): Promise<void> {
    const last = events[events.length - 1]?.position;
    const reached = skippedTo && (!last || comparePositions(skippedTo, last) > 0) ? skippedTo : last;
    if (reached) this.announcer.moved(p.name, generation, reached);
    // Committed: now dashboards may hear of it (never of data they cannot read yet).
    if (applied.length && p.afterCommit) {
      await p.afterCommit(applied).catch((err: unknown) => this.deps.logger.warn('projector notification failed', { projector: p.name, err }));
    }
  }

  /**
   * A batch failed in the projector's own code. Its events are applied one at a time to find the
   * one that fails on its own; under 'park' it is recorded and passed, and the projector goes on.
   * Under 'stop' it is recorded as the event the projector stopped on, and the projector waits
   * (state 'failed', not ready) until an operator asks to retry it (applied now, in order) or to
   * skip it (the checkpoint moves past it), or a rebuild's switch makes another generation live.
   */
  private async poisoned(w: Worker, failed: ProjectorFailed): Promise<void> {
    const { knex, logger } = this.deps;
    const p = w.projector;
    const generation = failed.generation;
    const where = (e: RecordedEvent) => ({ projector: p.name, generation, position: formatPosition(e.position), eventId: e.id, type: e.type, streamId: e.streamId });
    const r = await applyOneByOne({
      knex,
      checkpoints: this.checkpoints,
      parked: this.parked,
      projector: p,
      generation,
      events: failed.events,
      live: true,
      policy: this.policyOf(p),
      onParked: (e, err) => {
        this.announcer.moved(p.name, generation, e.position);
        logger.warn('projector parked an event it cannot apply and went on; retry or skip it at /admin/projections/{name}/parked', { ...where(e), err });
      },
    });
    if (r.applied.length) await this.committed(p, generation, r.applied, r.applied);
    if (!r.stoppedAt) return;

    const { event } = r.stoppedAt;
    let error = r.stoppedAt.error;
    await this.parked.park(knex, p.name, generation, event, error, r.stoppedAt.attempts, 'stopped');
    const stoppedOn = () => {
      const message = `${p.name} stopped at ${formatPosition(event.position)} (${event.type} in ${event.streamId}), which it cannot apply: ${error instanceof Error ? error.message : String(error)}`;
      w.state = 'failed';
      w.lastError = message;
      return this.checkpoints.recordError(p.name, generation, message).catch(() => {});
    };
    await stoppedOn();
    logger.error('projector stopped on an event it cannot apply; retry or skip it at /admin/projections/{name}/parked', { ...where(event), err: error });
    for (;;) {
      await this.pause(this.deps.stoppedPollMs ?? 1_000);
      if (this.stopped) return;
      if (this.deps.leases && !this.deps.leases.holds(p.name)) return;
      const row = await this.parked.get(p.name, event.id);
      // Gone with its generation (a rebuild switched): start again from the live one.
      if (!row || row.generation !== generation) return;
      const retry = row.status === 'retrying' || w.retryPoison;
      w.retryPoison = false;
      if (retry) {
        try {
          const applied = await applyBatch(knex, this.checkpoints, p, generation, [event], { live: true });
          await this.parked.setStatus(knex, p.name, generation, event.id, 'retried');
          await this.committed(p, generation, [event], applied);
          logger.info('projector applied the event it had stopped on, as an operator asked, and goes on', where(event));
          w.state = 'running';
          w.lastError = null;
          return;
        } catch (err) {
          if (!(err instanceof ProjectorFailed) || isTransient(err.cause)) throw err;
          error = err.cause;
          await this.parked.park(knex, p.name, generation, event, error, 1, 'stopped');
          await stoppedOn();
          logger.error('projector still cannot apply the event it stopped on', { ...where(event), err: error });
        }
      } else if (row.status === 'skipping') {
        await knex.transaction(async (trx) => {
          if ((await this.checkpoints.lockLive(trx, p.name)) !== generation) throw new GenerationChanged(p.name);
          const gen = await this.checkpoints.generation(p.name, generation, trx);
          if (!gen?.checkpoint || comparePositions(gen.checkpoint, event.position) < 0) await this.checkpoints.advance(trx, p.name, generation, event.position, 0);
          await this.parked.setStatus(trx, p.name, generation, event.id, 'skipped');
        });
        this.announcer.moved(p.name, generation, event.position);
        logger.warn('projector skipped the event it had stopped on, as an operator asked, and goes on', where(event));
        w.state = 'running';
        w.lastError = null;
        return;
      }
    }
  }

  /** Sleeps, but wakes at once when the runner stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }

  /** Stops the projectors whose leases were lost (their loops go back to asking for the lease). */
  leasesLost(names: string[]): void {
    for (const name of names) void this.workers.get(name)?.subscription?.close();
  }

  /** The first generation of a projector: live from the start, filled from history as it goes. */
  private async initialise(p: Projector): Promise<void> {
    await this.deps.knex.transaction(async (trx) => {
      if ((await this.checkpoints.lockLive(trx, p.name)) !== null) return;
      const g = await this.checkpoints.create(trx, p.name, p.version, 'live');
      await setupGeneration(trx, p, g);
      await switchLive(trx, this.checkpoints, p, g, null);
    });
  }

  rebuild(name: string, opts: Omit<Parameters<typeof rebuildProjection>[0], 'knex' | 'store' | 'checkpoints' | 'projector' | 'logger' | 'batchSize' | 'parked' | 'poisonPolicy'> = {}) {
    const { knex, store, logger } = this.deps;
    const projector = this.worker(name).projector;
    return rebuildProjection({ knex, store, checkpoints: this.checkpoints, projector, logger, batchSize: this.batchSize, parked: this.parked, poisonPolicy: this.policyOf(projector), ...opts });
  }

  async status(): Promise<ProjectionStatus[]> {
    const out: ProjectionStatus[] = [];
    const parked = new Map<string, number>();
    for (const c of await this.parked.openCounts()) parked.set(c.projector, (parked.get(c.projector) ?? 0) + c.count);
    for (const w of this.workers.values()) {
      const p = w.projector;
      const live = await this.checkpoints.liveGeneration(p.name);
      const filter = projectorFilter(p);
      // The store's head, not the newest matching event: finding that may mean a long scan back.
      const head = await this.deps.store.headPosition();
      const behind = await this.deps.store.countEvents({ after: live?.checkpoint, filter, limit: this.deps.lagCap ?? 10_001 });
      out.push({
        name: p.name,
        version: p.version,
        state: w.state,
        liveGeneration: live?.generation ?? null,
        liveVersion: live?.version ?? null,
        checkpoint: live?.checkpoint ? formatPosition(live.checkpoint) : null,
        head: head ? formatPosition(head) : null,
        eventsBehind: behind,
        parked: parked.get(p.name) ?? 0,
        onPoison: this.policyOf(p),
        lastError: w.lastError ?? live?.lastError ?? null,
      });
    }
    return out;
  }

  /** Lag and parked events, measured at each scrape of `metrics`. */
  exportMetrics(metrics: Metrics): void {
    metrics.onScrape(async () => {
      const status = await this.status();
      metrics.projectionLag.reset();
      for (const p of status) metrics.projectionLag.set({ projector: p.name, state: p.state }, p.eventsBehind);
      metrics.projectionParked.reset();
      for (const c of await this.parked.openCounts()) metrics.projectionParked.set({ projector: c.projector, status: c.status }, c.count);
    });
  }

  /** Waits until every running projector has applied everything up to the head. */
  async idle(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await this.status();
      if (s.every((x) => x.eventsBehind === 0 && x.liveVersion === x.version)) return true;
      await sleep(20);
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.announcer.stop();
    const running = [...this.workers.values()];
    await Promise.all(running.map((w) => w.subscription?.close()));
    await Promise.all(running.map((w) => w.done));
    for (const w of running) w.projector.close?.();
    if (this.deps.leases) for (const w of running) await this.deps.leases.release(w.projector.name);
  }
}

/**
 * When tracing: a span in each command's trace for the part of this batch that came from it
 * (events carry their command's traceparent), from the batch's start to its commit.
 */
function traceBatch(projector: string, events: readonly RecordedEvent[], startTime: number, err?: unknown): void {
  if (!tracingEnabled() || events.length === 0) return;
  const byParent = new Map<string, RecordedEvent[]>();
  for (const e of events) {
    const tp = e.metadata.traceparent;
    if (typeof tp !== 'string') continue;
    const list = byParent.get(tp);
    if (list) list.push(e);
    else byParent.set(tp, [e]);
  }
  const endTime = Date.now();
  for (const [traceparent, mine] of byParent) {
    const parent = contextFrom({ traceparent });
    if (!parent) continue;
    recordSpan(`project ${projector}`, {
      parent,
      startTime,
      endTime,
      attributes: {
        'freight.projector': projector,
        'freight.events': mine.length,
        'freight.event_types': [...new Set(mine.map((e) => e.type))].join(','),
        'freight.batch_size': events.length,
        'freight.position': formatPosition(mine[mine.length - 1]!.position),
      },
      ...(err ? { error: err instanceof Error ? err.message : String(err) } : {}),
    });
  }
}
