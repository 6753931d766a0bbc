import { setMaxListeners } from 'node:events';
import type { Knex } from 'knex';
import { comparePositions, formatPosition } from '../eventstore/position.js';
import type { EventStore, Position, RecordedEvent, Subscription } from '../eventstore/types.js';
import { backoff, sleep } from '../eventstore/wakeup.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { contextFrom, recordSpan, tracingEnabled } from '../infra/tracing.js';
import { applyBatch, GenerationChanged, ProjectorFailed } from './apply.js';
import { batches } from './batches.js';
import { Checkpoints } from './checkpoints.js';
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

  private async run(w: Worker): Promise<void> {
    const { projector: p } = w;
    const { knex, store, logger } = this.deps;
    const leases = this.deps.leases;
    let attempt = 0;
    while (!this.stopped) {
      try {
        if (leases && !(await leases.tryAcquire(p.name))) {
          w.state = 'standby';
          await this.pause(this.deps.leaseRetryMs ?? 2_000);
          continue;
        }
        await this.checkpoints.ensure(p.name);
        const live = await this.checkpoints.liveGeneration(p.name);
        if (!live) {
          await this.initialise(p);
          continue;
        }
        if (live.version !== p.version) {
          w.state = 'rebuilding';
          logger.info('projector version changed; rebuilding beside the live one', { projector: p.name, from: live.version, to: p.version });
          await rebuildProjection({
            knex,
            store,
            checkpoints: this.checkpoints,
            projector: p,
            logger,
            batchSize: this.batchSize,
            signal: this.abort.signal,
            parked: this.parked,
            poisonPolicy: this.policyOf(p),
          });
          continue;
        }
        // stop() closes the subscription it can see; one opened after it ran would never end.
        if (this.stopped) break;
        w.state = 'running';
        const sub = store.subscribeToAll({ fromPosition: live.checkpoint ?? 'start', filter: projectorFilter(p) });
        w.subscription = sub;
        try {
          let lastWrite = 0;
          for await (const { events, skippedTo } of batches(sub.withCheckpoints(), this.batchSize)) {
            if (this.stopped) break;
            // The lease went with its connection: another process may run this projector now.
            if (leases && !leases.holds(p.name)) break;
            // Moving the checkpoint past skipped events only matters now and then (it keeps lag
            // counts and re-reads short); doing it for every quiet page would be a write per wake-up.
            if (events.length === 0 && Date.now() - lastWrite < this.skipCheckpointMs) continue;
            const started = tracingEnabled() ? Date.now() : 0;
            let applied: readonly RecordedEvent[];
            try {
              applied = await applyBatch(knex, this.checkpoints, p, live.generation, events, { live: true, skippedTo });
            } catch (err) {
              traceBatch(p.name, events, started, err);
              throw err;
            }
            lastWrite = Date.now();
            await this.committed(p, live.generation, events, applied, skippedTo);
            traceBatch(p.name, applied, started);
            attempt = 0;
            w.lastError = null;
          }
        } finally {
          w.subscription = undefined;
          await sub.close();
        }
      } catch (caught) {
        let err = caught;
        if (this.stopped) break;
        if (err instanceof GenerationChanged) continue;
        if (err instanceof RebuildInProgress) {
          await sleep(1_000);
          continue;
        }
        // The projector's own code failed, and not for want of a connection: find the event, then park it or stop on it.
        if (err instanceof ProjectorFailed && !isTransient(err.cause)) {
          try {
            await this.poisoned(w, err);
            attempt = 0;
            continue;
          } catch (inner) {
            if (this.stopped) break;
            if (inner instanceof GenerationChanged) continue;
            err = inner;
          }
        }
        attempt++;
        const message = err instanceof Error ? err.message : String(err);
        w.lastError = message;
        const live = await this.checkpoints.liveGeneration(p.name).catch(() => undefined);
        if (live) await this.checkpoints.recordError(p.name, live.generation, message).catch(() => {});
        if (attempt >= (this.deps.maxAttempts ?? 5)) {
          w.state = 'failed';
          logger.error('projector stopped; it resumes from its checkpoint when restarted', {
            projector: p.name,
            checkpoint: live?.checkpoint ? formatPosition(live.checkpoint) : null,
            err,
          });
          return;
        }
        logger.warn('projector batch failed; retrying from the checkpoint', { projector: p.name, attempt, err });
        await sleep(backoff(attempt, 100, 5_000));
      }
    }
    w.state = 'stopped';
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
