import type { Knex } from 'knex';
import { comparePositions, parsePosition } from '../eventstore/position.js';
import { PgListener } from '../eventstore/postgres/notifier.js';
import type { EventFilter, EventStore, Position } from '../eventstore/types.js';
import { Checkpoints, PROGRESS_CHANNEL, PROGRESS_WANTED_CHANNEL, progressPayload } from './checkpoints.js';
import { type Projector, projectorFilter } from './types.js';

interface Waiter {
  target: Position;
  settle(reached: boolean): void;
}

/** What this process knows of one projector, and who waits on it. */
class Watch {
  readonly waiters = new Set<Waiter>();
  /** The live generation and its checkpoint as last read or heard. */
  generation?: number;
  checkpoint?: Position;
  checking = false;
  again = false;
  retry?: NodeJS.Timeout;
  retryMs = 0;

  constructor(
    readonly name: string,
    readonly filter: EventFilter,
  ) {}

  /** Settles every waiter at or below the known checkpoint. */
  release(): void {
    const cp = this.checkpoint;
    if (!cp) return;
    for (const w of [...this.waiters]) if (comparePositions(cp, w.target) >= 0) w.settle(true);
  }
}

/** The shortest and longest pause of a projector's safety-net re-check while requests wait on it. */
const RECHECK = { minMs: 25, maxMs: 500 };

/**
 * Waits for read models to include a position (`?minPosition=`), for every request of the
 * process at once. A request does not poll: it registers and sleeps. What wakes the waiters of a
 * projector is hearing that something changed: its live checkpoint moved (every batch commit
 * says so: at once in this process, and with a NOTIFY on PROGRESS_CHANNEL from other processes
 * running projectors, which this one asks for while requests wait, see ProgressAnnouncer), or an
 * append committed or failed that a `caughtUp` answer depended on (`EventStore.onCaughtUpChange`).
 * Each wake-up runs one check per projector, however many requests wait: read the live checkpoint
 * once, settle every waiter at or below it, then ask the store whether the rest are caught up (in
 * target order, stopping at the first that is not: no later one can be). Only while requests
 * wait, a re-check with backoff (25 ms to 500 ms) stands in for a notification missed or one that
 * reached a replica's reader before its rows.
 */
export class ProjectionProgress {
  private readonly watches = new Map<string, Watch>();
  private readonly checkpoints: Checkpoints;
  private readonly listener?: PgListener;
  private stopStoreWatch?: () => void;
  private stopLocal?: () => void;
  private lastAsk = 0;
  /** Moves heard per projector (from this process's runner or other processes' NOTIFY), see `changes`. */
  private readonly moves = new Map<string, number>();
  private started?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly deps: {
      /** Where the checkpoints are read: the same pool as the read models' rows. */
      knex: Knex;
      store: EventStore;
      projectors: readonly Projector[];
      /** The primary database, for LISTEN (a replica hears no NOTIFY); absent: hears only the store and the re-checks. */
      databaseUrl?: string;
      onError?: (err: unknown) => void;
      /** The safety-net re-check's backoff (tests make it long, to see that notifications alone wake waiters). */
      recheck?: { minMs: number; maxMs: number };
      /** This process's runner's announcer, when it has one: its moves are heard at once, without NOTIFY. */
      announcer?: ProgressAnnouncer;
    },
  ) {
    this.checkpoints = new Checkpoints(deps.knex);
    for (const p of deps.projectors) this.watches.set(p.name, new Watch(p.name, projectorFilter(p)));
    if (deps.databaseUrl) {
      this.listener = new PgListener(deps.databaseUrl, PROGRESS_CHANNEL, {
        notification: (payload) => this.heard(payload),
        lost: () => this.wakeAll(),
        error: (err) => deps.onError?.(err),
      });
    }
  }

  /** Starts listening (also done by the first wait). */
  start(): Promise<void> {
    this.started ??= (async () => {
      this.stopStoreWatch = this.deps.store.onCaughtUpChange(() => this.wakeAll());
      this.stopLocal = this.deps.announcer?.onMoved((payload) => this.heard(payload));
      await this.listener?.start();
    })();
    return this.started;
  }

  /**
   * Resolves true once `projection`'s read model includes every event it handles up to `target`,
   * or false after `timeoutMs`.
   */
  async until(projection: string, target: Position, timeoutMs: number): Promise<boolean> {
    const watch = this.watches.get(projection);
    if (!watch) throw new Error(`No projector ${projection}`);
    if (watch.checkpoint && comparePositions(watch.checkpoint, target) >= 0) return true;
    if (this.stopped) return false;
    void this.start();
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => waiter.settle(false), Math.max(0, timeoutMs));
      const waiter: Waiter = {
        target,
        settle: (reached) => {
          if (!watch.waiters.delete(waiter)) return;
          clearTimeout(timer);
          if (watch.waiters.size === 0) this.calm(watch);
          resolve(reached);
        },
      };
      watch.waiters.add(waiter);
      this.ask();
      void this.check(watch);
    });
  }

  /**
   * How many moves of `projection`'s live checkpoint this process has heard: a number that changes
   * whenever the read model may have (a cache of its answers stamps them with it). Moves made in this
   * process are heard at once; other processes' only while some process has reads waiting (asking
   * for them on every use would cost every batch a NOTIFY, see ProgressAnnouncer): a cache in a
   * process apart from the projectors also bounds its entries' age. Starts listening on first use.
   */
  changes(projection: string): number {
    if (!this.stopped) void this.start();
    return this.moves.get(projection) ?? 0;
  }

  /** Requests waiting now, by projector. */
  waiting(): Record<string, number> {
    return Object.fromEntries([...this.watches].filter(([, w]) => w.waiters.size).map(([n, w]) => [n, w.waiters.size]));
  }

  /** Checks run so far (each reads one checkpoint), however many requests each served. */
  checks = 0;

  private heard(payload: string | undefined): void {
    for (const line of (payload ?? '').split('\n')) {
      const [name, gen, pos] = line.split(' ');
      const watch = name ? this.watches.get(name) : undefined;
      if (!watch) continue;
      this.moves.set(name!, (this.moves.get(name!) ?? 0) + 1);
      if (pos && Number(gen) === watch.generation) {
        try {
          const to = parsePosition(pos);
          if (!watch.checkpoint || comparePositions(to, watch.checkpoint) > 0) watch.checkpoint = to;
          watch.release();
        } catch {
          // Not a position: the check below reads it.
        }
      }
      if (watch.waiters.size) void this.check(watch);
    }
  }

  private wakeAll(): void {
    for (const w of this.watches.values()) if (w.waiters.size) void this.check(w);
  }

  /** One check at a time per projector; a wake-up during one runs it once more after. */
  private async check(watch: Watch): Promise<void> {
    if (watch.checking) {
      watch.again = true;
      return;
    }
    watch.checking = true;
    try {
      do {
        watch.again = false;
        if (!watch.waiters.size || this.stopped) break;
        this.checks++;
        const live = await this.checkpoints.liveGeneration(watch.name);
        watch.generation = live?.generation;
        // A rebuild's switch may move the live checkpoint back: take what is read, not the higher.
        watch.checkpoint = live?.checkpoint;
        watch.release();
        const rest = [...watch.waiters].sort((a, b) => comparePositions(a.target, b.target));
        for (const w of rest) {
          if (!(await this.deps.store.caughtUp(watch.checkpoint, w.target, watch.filter))) break;
          w.settle(true);
        }
      } while (watch.again);
    } catch (err) {
      this.deps.onError?.(err);
    } finally {
      watch.checking = false;
    }
    if (watch.waiters.size && !this.stopped) {
      this.ask();
      this.recheckLater(watch);
    }
  }

  /** Requests wait here: asks the projector processes (this one at once, others by NOTIFY) to announce their progress. */
  private ask(): void {
    const now = Date.now();
    if (now - this.lastAsk < ASK_EVERY_MS) return;
    this.lastAsk = now;
    this.deps.announcer?.want();
    void this.listener?.notify(PROGRESS_WANTED_CHANNEL, '');
  }

  private recheckLater(watch: Watch): void {
    if (watch.retry) return;
    const { minMs, maxMs } = this.deps.recheck ?? RECHECK;
    watch.retryMs = Math.min(maxMs, Math.max(minMs, watch.retryMs * 2));
    watch.retry = setTimeout(() => {
      watch.retry = undefined;
      void this.check(watch);
    }, watch.retryMs);
  }

  /** Nobody waits on this projector any more: no re-checks until someone does. */
  private calm(watch: Watch): void {
    clearTimeout(watch.retry);
    watch.retry = undefined;
    watch.retryMs = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopStoreWatch?.();
    this.stopLocal?.();
    for (const w of this.watches.values()) {
      for (const waiter of [...w.waiters]) waiter.settle(false);
      this.calm(w);
    }
    await this.listener?.stop();
  }
}

/** How long one "wanted" keeps a projector process announcing, and how often a waiting process says it again. */
const WANTED_FOR_MS = 2_000;
const ASK_EVERY_MS = 500;

/**
 * Tells read-your-writes waits that live checkpoints moved, after the batches committed. In its
 * own process at once, by a call (`onMoved`). Other processes hear a NOTIFY on PROGRESS_CHANNEL,
 * but only while some process has said it has requests waiting (a NOTIFY on PROGRESS_WANTED_CHANNEL,
 * which keeps this announcing for 2 s): a NOTIFY commits like a write, and sent for every batch
 * it cost commands 10-15% of their throughput when nobody was waiting. While wanted, at most one
 * goes out per `intervalMs` (the first of a quiet spell at once), naming each projector's newest
 * checkpoint.
 */
export class ProgressAnnouncer {
  private readonly pending = new Map<string, { generation: number; to: Position }>();
  private readonly local = new Set<(payload: string) => void>();
  private readonly listener?: PgListener;
  private wantedUntil = 0;
  private busy = false;
  private last = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly knex: Knex,
    private readonly opts: {
      /** The primary, to hear who wants progress (absent: only this process's waiters hear it). */
      databaseUrl?: string;
      intervalMs?: number;
      onError?: (err: unknown) => void;
    } = {},
  ) {
    if (opts.databaseUrl) {
      this.listener = new PgListener(opts.databaseUrl, PROGRESS_WANTED_CHANNEL, {
        notification: () => this.want(),
        // A request to announce may have been missed meanwhile: announce for a while.
        lost: () => this.want(),
        error: (err) => opts.onError?.(err),
      });
    }
  }

  /** Some process has requests waiting: announce to other processes for the next 2 s. */
  want(): void {
    this.wantedUntil = Date.now() + WANTED_FOR_MS;
  }

  /** Whether other processes are being told (tests wait for it). */
  wanted(): boolean {
    return Date.now() < this.wantedUntil;
  }

  /** Hears every move in this process, at once (this process's ProjectionProgress); answers how to stop. */
  onMoved(fn: (payload: string) => void): () => void {
    this.local.add(fn);
    return () => this.local.delete(fn);
  }

  /** `name`'s live generation has committed its checkpoint at `to` or past it. */
  moved(name: string, generation: number, to: Position): void {
    if (this.local.size) {
      const payload = progressPayload(name, generation, to);
      for (const fn of this.local) fn(payload);
    }
    if (!this.wanted()) return;
    const had = this.pending.get(name);
    if (!had || had.generation !== generation || comparePositions(to, had.to) > 0)
      this.pending.set(name, { generation, to });
    this.flush();
  }

  private flush(): void {
    if (this.busy || this.stopped || this.pending.size === 0) return;
    this.busy = true;
    const wait = Math.max(0, this.last + (this.opts.intervalMs ?? 5) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.last = Date.now();
      const payload = [...this.pending].map(([name, p]) => progressPayload(name, p.generation, p.to)).join('\n');
      this.pending.clear();
      // A lost NOTIFY costs a waiter one safety-net re-check, not a wrong answer: no WAL flush waited for.
      void this.knex
        .raw("select set_config('synchronous_commit', 'off', true), pg_notify(?, ?)", [PROGRESS_CHANNEL, payload])
        .catch((err: unknown) => this.opts.onError?.(err))
        .finally(() => {
          this.busy = false;
          this.flush();
        });
    }, wait);
  }

  start(): void {
    this.stopped = false;
    void this.listener?.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.busy = false;
    this.pending.clear();
    await this.listener?.stop();
  }
}
