import type { Knex } from 'knex';
import { comparePositions } from '../eventstore/position.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { backoff, sleep } from '../eventstore/wakeup.js';
import { applyBatch, GenerationChanged, ProjectorFailed } from './apply.js';
import type { Checkpoints } from './checkpoints.js';
import type { PoisonPolicy, Projector } from './types.js';

export type { PoisonPolicy } from './types.js';

/** Every status a parked event can have (the table's check constraint lists the same). */
export const PARKED_STATUSES = ['parked', 'stopped', 'retrying', 'skipping', 'retried', 'skipped'] as const;
export type ParkedStatus = (typeof PARKED_STATUSES)[number];
/** Rows an operator still has to act on (or that a projector is acting on). */
export const OPEN_STATUSES: readonly ParkedStatus[] = ['parked', 'stopped', 'retrying', 'skipping'];

export interface ParkedEvent {
  projector: string;
  generation: number;
  eventId: string;
  position: string;
  streamId: string;
  type: string;
  error: string;
  attempts: number;
  status: ParkedStatus;
  parkedAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  event: RecordedEvent;
}

interface Row {
  name: string;
  generation: number;
  event_id: string;
  event_commit: string;
  event_prepare: string;
  stream_id: string;
  event_type: string;
  event: StoredEvent;
  error: string;
  attempts: number;
  status: ParkedStatus;
  parked_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
}

interface StoredEvent {
  id: string;
  type: string;
  streamId: string;
  revision: string;
  commit: string;
  prepare: string;
  data: unknown;
  metadata: Record<string, unknown>;
  createdAt: string;
}

function store(e: RecordedEvent): StoredEvent {
  return {
    id: e.id,
    type: e.type,
    streamId: e.streamId,
    revision: e.revision.toString(),
    commit: e.position.commit.toString(),
    prepare: e.position.prepare.toString(),
    data: e.data,
    metadata: e.metadata,
    createdAt: e.createdAt.toISOString(),
  };
}

function recorded(s: StoredEvent): RecordedEvent {
  return {
    id: s.id,
    type: s.type,
    streamId: s.streamId,
    revision: BigInt(s.revision),
    position: { commit: BigInt(s.commit), prepare: BigInt(s.prepare) },
    data: s.data,
    metadata: s.metadata,
    createdAt: new Date(s.createdAt),
  };
}

function toParked(r: Row): ParkedEvent {
  return {
    projector: r.name,
    generation: r.generation,
    eventId: r.event_id,
    position: `${r.event_commit}/${r.event_prepare}`,
    streamId: r.stream_id,
    type: r.event_type,
    error: r.error,
    attempts: r.attempts,
    status: r.status,
    parkedAt: r.parked_at.toISOString(),
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    resolvedBy: r.resolved_by,
    event: recorded(r.event),
  };
}

/** The errors worth retrying as they are (a connection, a lock, the server), which never make an event poison. */
export function isTransient(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      // Postgres: connection (08), resources (53), operator intervention (57: shutdown, cancel), serialization and deadlock, lock not available.
      if (/^(08|53|57)/.test(code) || code === '40001' || code === '40P01' || code === '55P03') return true;
      if (/^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN)$/.test(code)) return true;
    }
    const message = e instanceof Error ? e.message : '';
    if (
      /Connection terminated|Connection is closed|Client was closed|Timeout acquiring a connection|MaxRetriesPerRequest|fetch failed|socket hang up/i.test(
        message,
      )
    )
      return true;
  }
  return false;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 4_000);

/** The table of parked events (migrations/…_008). */
export class ParkedEvents {
  constructor(private readonly knex: Knex) {}

  /** Records `event` for `name`'s `generation` (again: its error and attempts are updated). */
  async park(
    db: Knex | Knex.Transaction,
    name: string,
    generation: number,
    event: RecordedEvent,
    err: unknown,
    attempts: number,
    status: 'parked' | 'stopped',
  ): Promise<void> {
    await db.raw(
      `insert into projection_parked_events
         (name, generation, event_id, event_commit, event_prepare, stream_id, event_type, event, error, attempts, status)
       values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)
       on conflict (name, generation, event_id) do update
         set error = excluded.error, attempts = projection_parked_events.attempts + excluded.attempts,
             status = excluded.status, resolved_at = null, resolved_by = null`,
      [
        name,
        generation,
        event.id,
        event.position.commit.toString(),
        event.position.prepare.toString(),
        event.streamId,
        event.type,
        JSON.stringify(store(event)),
        message(err),
        attempts,
        status,
      ],
    );
  }

  /** The live generation's rows of `name`, in log order; `statuses` default: the open ones. */
  async list(
    name: string,
    opts: { statuses?: readonly ParkedStatus[]; limit: number; offset: number },
  ): Promise<{ total: number; events: ParkedEvent[] }> {
    const statuses = opts.statuses ?? OPEN_STATUSES;
    const base = this.knex('projection_parked_events as e')
      .join('projections as p', function () {
        this.on('p.name', 'e.name').andOn('p.live_generation', 'e.generation');
      })
      .where('e.name', name)
      .whereIn('e.status', statuses as ParkedStatus[]);
    const [{ n }] = (await base.clone().count<{ n: string }[]>('* as n')) as [{ n: string }];
    const rows = await base
      .clone()
      .select<Row[]>('e.*')
      .orderBy([{ column: 'e.event_commit' }, { column: 'e.event_prepare' }])
      .limit(opts.limit)
      .offset(opts.offset);
    return { total: Number(n), events: rows.map(toParked) };
  }

  /** One row of the live generation of `name`. */
  async get(
    name: string,
    eventId: string,
    db: Knex | Knex.Transaction = this.knex,
    opts: { lock?: boolean } = {},
  ): Promise<ParkedEvent | undefined> {
    const q = db('projection_parked_events as e')
      .join('projections as p', function () {
        this.on('p.name', 'e.name').andOn('p.live_generation', 'e.generation');
      })
      .where({ 'e.name': name, 'e.event_id': eventId });
    const row = await (opts.lock ? q.forUpdate('e') : q).first<Row | undefined>('e.*');
    return row && toParked(row);
  }

  async setStatus(
    db: Knex | Knex.Transaction,
    name: string,
    generation: number,
    eventId: string,
    status: ParkedStatus,
    by?: string,
  ): Promise<void> {
    const resolved = status === 'retried' || status === 'skipped';
    await db('projection_parked_events')
      .where({ name, generation, event_id: eventId })
      .update({ status, resolved_at: resolved ? db.fn.now() : null, ...(by !== undefined ? { resolved_by: by } : {}) });
  }

  /** Forgets a generation's rows (a rebuild's switch retired it); answers how many were still open. */
  async clearGeneration(db: Knex | Knex.Transaction, name: string, generation: number): Promise<number> {
    const open = await db('projection_parked_events')
      .where({ name, generation })
      .whereIn('status', OPEN_STATUSES as ParkedStatus[])
      .count<{ n: string }[]>('* as n');
    await db('projection_parked_events').where({ name, generation }).delete();
    return Number(open[0]?.n ?? 0);
  }

  /** Open rows of every projector's live generation, by status (for the metric and /ready). */
  async openCounts(): Promise<{ projector: string; status: ParkedStatus; count: number }[]> {
    const rows = await this.knex('projection_parked_events as e')
      .join('projections as p', function () {
        this.on('p.name', 'e.name').andOn('p.live_generation', 'e.generation');
      })
      .whereIn('e.status', OPEN_STATUSES as ParkedStatus[])
      .groupBy('e.name', 'e.status')
      .select<{ name: string; status: ParkedStatus; n: string }[]>(
        'e.name',
        'e.status',
        this.knex.raw('count(*) as n'),
      );
    return rows.map((r) => ({ projector: r.name, status: r.status, count: Number(r.n) }));
  }
}

/** How many times one event is tried on its own before it counts as poison. */
export const POISON_ATTEMPTS = 3;

/**
 * A batch failed in the projector's own code. Applies its events one at a time, each with its
 * checkpoint (in a savepoint of `trx` when given), to find the ones that fail on their own: each is
 * tried POISON_ATTEMPTS times, then parked (recorded, and the checkpoint moved past it, in one
 * transaction) under `park`, or answered as `stoppedAt` under `stop` (nothing after it applied).
 * Transient errors and a changed generation are thrown, as for any batch.
 */
export async function applyOneByOne(opts: {
  knex: Knex;
  checkpoints: Checkpoints;
  parked: ParkedEvents;
  projector: Projector;
  generation: number;
  events: readonly RecordedEvent[];
  live: boolean;
  policy: PoisonPolicy;
  trx?: Knex.Transaction;
  onParked?: (event: RecordedEvent, err: unknown) => void;
}): Promise<{
  applied: RecordedEvent[];
  parked: number;
  stoppedAt?: { event: RecordedEvent; error: unknown; attempts: number };
}> {
  const { knex, checkpoints, projector, generation } = opts;
  const within = <T>(fn: (trx: Knex.Transaction) => Promise<T>) =>
    opts.trx ? opts.trx.transaction(fn) : knex.transaction(fn);
  const applied: RecordedEvent[] = [];
  let parked = 0;
  for (const event of opts.events) {
    let failure: unknown;
    for (let attempt = 1; attempt <= POISON_ATTEMPTS; attempt++) {
      try {
        applied.push(
          ...(await within((trx) =>
            applyBatch(knex, checkpoints, projector, generation, [event], { live: opts.live, trx }),
          )),
        );
        failure = undefined;
        break;
      } catch (err) {
        if (!(err instanceof ProjectorFailed) || isTransient(err.cause)) throw err;
        failure = err.cause;
        if (attempt < POISON_ATTEMPTS) await sleep(backoff(attempt, 50, 1_000));
      }
    }
    if (failure === undefined) continue;
    if (opts.policy === 'stop')
      return { applied, parked, stoppedAt: { event, error: failure, attempts: POISON_ATTEMPTS } };
    await within(async (trx) => {
      if (opts.live && (await checkpoints.lockLive(trx, projector.name)) !== generation)
        throw new GenerationChanged(projector.name);
      const gen = await checkpoints.generation(projector.name, generation, trx);
      // Already at or past it (another process parked it first): nothing to do.
      if (gen?.checkpoint && comparePositions(gen.checkpoint, event.position) >= 0) return;
      await opts.parked.park(trx, projector.name, generation, event, failure, POISON_ATTEMPTS, 'parked');
      await checkpoints.advance(trx, projector.name, generation, event.position, 0);
    });
    parked++;
    opts.onParked?.(event, failure);
  }
  return { applied, parked };
}
