import type { Knex } from 'knex';
import type { EventFilter, RecordedEvent } from '../eventstore/types.js';

/**
 * What a projector does with an event its own code cannot apply (a poison event): `stop` where it
 * is (the read model stays exact, and behind, until an operator retries or skips the event), or
 * `park` it and go on (the read model misses that one event, listed for an operator to retry or
 * skip; a rebuild with fixed code clears it).
 */
export type PoisonPolicy = 'stop' | 'park';

interface ProjectorBase {
  readonly name: string;
  /** Bump when the projector's logic or tables change: the runner then rebuilds it from history. */
  readonly version: number;
  /** The event types it handles; the runner reads only these ('all' for every type). */
  readonly eventTypes: readonly string[] | 'all';
  readonly streamPrefixes?: readonly string[];
  /**
   * Called by the live runner once a batch it applied is readable (never while rebuilding), with the
   * events it applied: for telling dashboards. A Postgres projector's batch is readable once its
   * transaction committed; an at-least-once projector's once its `apply` resolved (one that writes
   * ahead, see apply.ts, is told before its checkpoint moves). At most once; a failure is logged, not
   * retried.
   */
  afterCommit?(events: readonly RecordedEvent[]): Promise<void>;
  /** Its poison-event policy unless configured otherwise (PROJECTION_POISON_POLICY); default 'park'. */
  readonly onPoison?: PoisonPolicy;
  /** Releases what the projector holds (timers); the runner calls it when it stops. */
  close?(): void;
}

export interface ApplyContext {
  /**
   * A rebuild is filling a generation no reader sees yet. Its checkpoint commits with each batch,
   * so every event reaches `apply` once: rows a batch creates cannot exist yet and may be
   * bulk-loaded (COPY) instead of upserted.
   */
  readonly rebuilding: boolean;
}

/** Maps a logical table name to this generation's physical table. */
export type TableNames = (logical: string) => string;

/**
 * Writes Postgres tables. The batch and the checkpoint commit in one transaction: exactly once.
 * Each generation has its own physical tables; readers query a view named after the logical
 * table, which points at the live generation.
 */
export interface PostgresProjector extends ProjectorBase {
  readonly kind: 'postgres';
  readonly tables: readonly string[];
  /** Creates this generation's (empty) tables. */
  setup(trx: Knex.Transaction, t: TableNames): Promise<void>;
  /**
   * The secondary indexes of this generation's tables: one `create index if not exists` statement
   * each (named, so running it twice does nothing). The engine creates them with the tables for a
   * live generation; a rebuild fills the tables first and creates them once, at the end, several at
   * a time (building an index over a million rows is far cheaper than updating it a million times),
   * so the slowest first.
   */
  indexes?(t: TableNames): readonly string[];
  /** Applies events in order, inside the transaction that also moves the checkpoint. */
  apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames, ctx?: ApplyContext): Promise<void>;
}

/**
 * Writes elsewhere (Redis, a search index, sockets): at-least-once, so `apply` must be
 * idempotent (write only what is newer than what is stored). `generation` namespaces its storage
 * so a rebuild can fill a new copy beside the live one. One with neither `setup` nor `retire` keeps
 * one storage whatever the generation, and its live batches write ahead of their checkpoint: they
 * take no transaction nor lock (see applyAhead).
 */
export interface AtLeastOnceProjector extends ProjectorBase {
  readonly kind: 'at-least-once';
  setup?(generation: number): Promise<void>;
  apply(events: readonly RecordedEvent[], generation: number): Promise<void>;
  /** Called after a rebuilt generation became live; drop the old one's storage here. */
  retire?(generation: number): Promise<void>;
}

export type Projector = PostgresProjector | AtLeastOnceProjector;

export function projectorFilter(p: Projector): EventFilter {
  return { eventTypes: p.eventTypes === 'all' ? undefined : p.eventTypes, streamPrefixes: p.streamPrefixes };
}

export function tableNames(generation: number): TableNames {
  return (logical) => `${logical}__g${generation}`;
}
