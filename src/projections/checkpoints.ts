import type { Knex } from 'knex';
import { formatPosition } from '../eventstore/position.js';
import type { Position } from '../eventstore/types.js';

/**
 * The NOTIFY channel on which live generations' checkpoint moves are announced (ProgressAnnouncer,
 * and a rebuild's switch), for read-your-writes waits in every process (ProjectionProgress).
 */
export const PROGRESS_CHANNEL = 'freight_projection_progress';
/** The NOTIFY channel on which a process with read-your-writes waits asks for PROGRESS_CHANNEL (see ProgressAnnouncer). */
export const PROGRESS_WANTED_CHANNEL = 'freight_projection_wanted';

/** `name generation [commit/prepare]`: a projector's live generation moved (at least to the position, when given); lines of these in one payload. */
export function progressPayload(name: string, generation: number, to?: Position): string {
  return `${name} ${generation}${to ? ` ${formatPosition(to)}` : ''}`;
}

export interface GenerationRow {
  name: string;
  generation: number;
  version: number;
  status: 'building' | 'live' | 'retired' | 'failed';
  checkpoint: Position | undefined;
  eventsApplied: bigint;
  lastError: string | null;
  updatedAt: Date;
}

interface RawGeneration {
  name: string;
  generation: number;
  version: number;
  status: GenerationRow['status'];
  checkpoint_commit: string | null;
  checkpoint_prepare: string | null;
  events_applied: string;
  last_error: string | null;
  updated_at: Date;
}

function toRow(r: RawGeneration): GenerationRow {
  return {
    name: r.name,
    generation: r.generation,
    version: r.version,
    status: r.status,
    checkpoint:
      r.checkpoint_commit === null
        ? undefined
        : { commit: BigInt(r.checkpoint_commit), prepare: BigInt(r.checkpoint_prepare!) },
    eventsApplied: BigInt(r.events_applied),
    lastError: r.last_error,
    updatedAt: r.updated_at,
  };
}

/** The bookkeeping tables of projections (migrations/…_projections.ts). */
export class Checkpoints {
  constructor(private readonly knex: Knex) {}

  async ensure(name: string): Promise<void> {
    await this.knex.raw('insert into projections (name) values (?) on conflict do nothing', [name]);
  }

  /** The live generation number, locking the projection's row until `trx` ends. */
  async lockLive(trx: Knex.Transaction, name: string): Promise<number | null> {
    const row = await trx('projections')
      .where({ name })
      .forUpdate()
      .first<{ live_generation: number | null } | undefined>();
    return row?.live_generation ?? null;
  }

  async liveGeneration(name: string, db: Knex | Knex.Transaction = this.knex): Promise<GenerationRow | undefined> {
    const r = await db('projection_generations as g')
      .join('projections as p', function () {
        this.on('p.name', 'g.name').andOn('p.live_generation', 'g.generation');
      })
      .where('g.name', name)
      .first<RawGeneration | undefined>('g.*');
    return r && toRow(r);
  }

  async generation(
    name: string,
    generation: number,
    db: Knex | Knex.Transaction = this.knex,
  ): Promise<GenerationRow | undefined> {
    const r = await db('projection_generations').where({ name, generation }).first<RawGeneration | undefined>();
    return r && toRow(r);
  }

  async all(db: Knex | Knex.Transaction = this.knex): Promise<GenerationRow[]> {
    const rows = await db('projection_generations').orderBy(['name', 'generation']).select<RawGeneration[]>();
    return rows.map(toRow);
  }

  async create(trx: Knex.Transaction, name: string, version: number, status: 'building' | 'live'): Promise<number> {
    // Under the projection's row lock, so a first start and a rebuild cannot pick the same number.
    await this.lockLive(trx, name);
    const [row] = await trx('projection_generations')
      .where({ name })
      .max<{ max: number | null }[]>('generation as max');
    const max = row?.max ?? 0;
    const generation = max + 1;
    await trx('projection_generations').insert({ name, generation, version, status });
    return generation;
  }

  async advance(
    trx: Knex | Knex.Transaction,
    name: string,
    generation: number,
    to: Position,
    applied: number,
  ): Promise<void> {
    await trx('projection_generations')
      .where({ name, generation })
      .update({
        checkpoint_commit: to.commit.toString(),
        checkpoint_prepare: to.prepare.toString(),
        events_applied: trx.raw('events_applied + ?', [applied]),
        last_error: null,
        updated_at: trx.fn.now(),
      });
  }

  /**
   * Moves a live generation's checkpoint on to `to` in one statement of its own, committed without
   * waiting for the disk (as a batch's transaction is; see apply.ts), never backwards. False when
   * the generation is no longer live (a rebuild switched); true when it moved, or stood at or past
   * `to` already.
   */
  async advanceLive(name: string, generation: number, to: Position, applied: number): Promise<boolean> {
    const commit = to.commit.toString();
    const prepare = to.prepare.toString();
    const { rows } = await this.knex.raw<{ rows: { live: boolean; moved: boolean }[] }>(
      `with async as (select set_config('synchronous_commit', 'off', true)),
            moved as (
              update projection_generations g
                 set checkpoint_commit = ?, checkpoint_prepare = ?, events_applied = g.events_applied + ?,
                     last_error = null, updated_at = now()
                from projections p, async
               where g.name = ? and g.generation = ? and p.name = g.name and p.live_generation = g.generation
                 and (g.checkpoint_commit is null or (g.checkpoint_commit, g.checkpoint_prepare) < (?::numeric, ?::numeric))
              returning 1)
       select exists (select 1 from projections where name = ? and live_generation = ?) as live,
              exists (select 1 from moved) as moved`,
      [commit, prepare, applied, name, generation, commit, prepare, name, generation],
    );
    const r = rows[0]!;
    return r.moved || r.live;
  }

  async recordError(name: string, generation: number, message: string): Promise<void> {
    await this.knex('projection_generations')
      .where({ name, generation })
      .update({ last_error: message, updated_at: this.knex.fn.now() });
  }

  async setStatus(
    trx: Knex | Knex.Transaction,
    name: string,
    generation: number,
    status: GenerationRow['status'],
  ): Promise<void> {
    await trx('projection_generations')
      .where({ name, generation })
      .update({ status, updated_at: trx.fn.now(), ...(status === 'live' ? { switched_at: trx.fn.now() } : {}) });
  }

  async setLive(trx: Knex.Transaction, name: string, generation: number): Promise<void> {
    await trx('projections').where({ name }).update({ live_generation: generation, updated_at: trx.fn.now() });
    // Waiters read the new generation's checkpoint when this commits.
    await trx.raw('select pg_notify(?, ?)', [PROGRESS_CHANNEL, progressPayload(name, generation)]);
  }
}
