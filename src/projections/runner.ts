import { setMaxListeners } from 'node:events';
import type { Knex } from 'knex';
import { comparePositions, formatPosition } from '../eventstore/position.js';
import type { EventStore, RecordedEvent, Subscription } from '../eventstore/types.js';
import { backoff, sleep } from '../eventstore/wakeup.js';
import type { Logger } from '../infra/logger.js';
import { contextFrom, recordSpan, tracingEnabled } from '../infra/tracing.js';
import { applyBatch, GenerationChanged } from './apply.js';
import { batches } from './batches.js';
import { Checkpoints } from './checkpoints.js';
import { ProgressAnnouncer } from './progress.js';
import { setupGeneration, switchLive } from './generations.js';
import { rebuildProjection, RebuildInProgress } from './rebuild.js';
import type { ProjectorLeases } from './lease.js';
import { type Projector, projectorFilter } from './types.js';

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
  lastError: string | null;
}

interface Worker {
  projector: Projector;
  state: ProjectorState;
  subscription?: Subscription;
  done?: Promise<void>;
  lastError: string | null;
}

/**
 * Runs each projector on its own: reads $all from the live generation's checkpoint in batches
 * and applies them (see apply.ts). A projector that keeps failing stops, with its error logged and
 * recorded, while the others go on; restarting resumes it from its checkpoint. A projector whose
 * code version differs from its live generation is rebuilt beside it, then switched.
 */
/** One signal that every projector's pause listens to (a process has more than ten of them). */
function stopSignal(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

export class ProjectionRunner {
  readonly checkpoints: Checkpoints;
  /** Tells read-your-writes waits in every process that a live checkpoint moved. */
  private readonly announcer: ProgressAnnouncer;
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
    },
  ) {
    this.checkpoints = new Checkpoints(deps.knex);
    this.announcer = new ProgressAnnouncer(deps.knex, { onError: (err) => deps.logger.warn('announcing projection progress failed', { err }) });
    const names = new Set<string>();
    for (const p of deps.projectors) {
      if (names.has(p.name)) throw new Error(`Two projectors are named ${p.name}`);
      names.add(p.name);
      this.workers.set(p.name, { projector: p, state: 'stopped', lastError: null });
    }
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

  /** Starts a stopped or failed projector again; it resumes from its checkpoint. */
  restart(name: string): void {
    const w = this.worker(name);
    if (w.done) return;
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
            // Committed: the checkpoint is now at least here (announcing less than it is is harmless).
            const last = events[events.length - 1]?.position;
            const reached = skippedTo && (!last || comparePositions(skippedTo, last) > 0) ? skippedTo : last;
            if (reached) this.announcer.moved(p.name, live.generation, reached);
            // Committed: now dashboards may hear of it (never of data they cannot read yet).
            if (applied.length && p.afterCommit) {
              await p.afterCommit(applied).catch((err: unknown) => logger.warn('projector notification failed', { projector: p.name, err }));
            }
            traceBatch(p.name, applied, started);
            attempt = 0;
            w.lastError = null;
          }
        } finally {
          w.subscription = undefined;
          await sub.close();
        }
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof GenerationChanged) continue;
        if (err instanceof RebuildInProgress) {
          await sleep(1_000);
          continue;
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

  rebuild(name: string, opts: Omit<Parameters<typeof rebuildProjection>[0], 'knex' | 'store' | 'checkpoints' | 'projector' | 'logger' | 'batchSize'> = {}) {
    const { knex, store, logger } = this.deps;
    return rebuildProjection({ knex, store, checkpoints: this.checkpoints, projector: this.worker(name).projector, logger, batchSize: this.batchSize, ...opts });
  }

  async status(): Promise<ProjectionStatus[]> {
    const out: ProjectionStatus[] = [];
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
        lastError: w.lastError ?? live?.lastError ?? null,
      });
    }
    return out;
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
    this.announcer.stop();
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
