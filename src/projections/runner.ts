import { setMaxListeners } from 'node:events';
import type { Knex } from 'knex';
import { formatPosition } from '../eventstore/position.js';
import type { EventStore } from '../eventstore/types.js';
import { sleep } from '../eventstore/wakeup.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { Checkpoints } from './checkpoints.js';
import { ParkedEvents } from './parked.js';
import { ProgressAnnouncer } from './progress.js';
import type { LoopContext, ProjectorState, Worker } from './loop-context.js';
import { ProjectorLoop } from './projector-loop.js';
import { rebuildProjection } from './rebuild.js';
import type { ProjectorLeases } from './lease.js';
import { type PoisonPolicy, type Projector, projectorFilter } from './types.js';
import { TableStatistics } from './statistics.js';

export type { ProjectorState } from './loop-context.js';

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
 * policy (see poison-stop.ts). A projector whose code version differs from its live generation is
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
  /** What each projector's loop takes from this runner. */
  private readonly loop: LoopContext;

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
      /** When live tables are analyzed as they grow (see TableStatistics; default: every 5,000 events, past 1,000 rows + 10%). */
      statistics?: { checkEvery?: number; minRows?: number; share?: number };
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
    this.loop = {
      knex: deps.knex,
      store: deps.store,
      logger: deps.logger,
      leases: deps.leases,
      checkpoints: this.checkpoints,
      parked: this.parked,
      announcer: this.announcer,
      statistics: new TableStatistics(deps.knex, deps.logger, deps.statistics),
      batchSize: this.batchSize,
      skipCheckpointMs: deps.skipCheckpointMs ?? 1_000,
      maxAttempts: deps.maxAttempts ?? 5,
      leaseRetryMs: deps.leaseRetryMs ?? 2_000,
      stoppedPollMs: deps.stoppedPollMs ?? 1_000,
      stopped: () => this.stopped,
      signal: () => this.abort.signal,
      policyOf: (p) => this.policyOf(p),
    };
  }

  /** What `name` does with an event it cannot apply: configured by name, else `*`, else its own choice, else 'park'. */
  policyOf(p: Projector): PoisonPolicy {
    const configured = this.deps.poisonPolicy;
    return configured?.[p.name] ?? configured?.['*'] ?? p.onPoison ?? 'park';
  }

  private get batchSize() {
    return this.deps.batchSize ?? 500;
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
    w.done = new ProjectorLoop(this.loop, w).run().finally(() => {
      w.done = undefined;
    });
  }

  private worker(name: string): Worker {
    const w = this.workers.get(name);
    if (!w) throw new Error(`No projector named ${name}`);
    return w;
  }

  /** Stops the projectors whose leases were lost (their loops go back to asking for the lease). */
  leasesLost(names: string[]): void {
    for (const name of names) void this.workers.get(name)?.subscription?.close();
  }

  rebuild(
    name: string,
    opts: Omit<
      Parameters<typeof rebuildProjection>[0],
      'knex' | 'store' | 'checkpoints' | 'projector' | 'logger' | 'batchSize' | 'parked' | 'poisonPolicy'
    > = {},
  ) {
    const { knex, store, logger } = this.deps;
    const projector = this.worker(name).projector;
    return rebuildProjection({
      knex,
      store,
      checkpoints: this.checkpoints,
      projector,
      logger,
      batchSize: this.batchSize,
      parked: this.parked,
      poisonPolicy: this.policyOf(projector),
      ...opts,
    });
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
      const behind = await this.deps.store.countEvents({
        after: live?.checkpoint,
        filter,
        limit: this.deps.lagCap ?? 10_001,
      });
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
      for (const c of await this.parked.openCounts())
        metrics.projectionParked.set({ projector: c.projector, status: c.status }, c.count);
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
