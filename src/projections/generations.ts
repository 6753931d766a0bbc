import type { Knex } from 'knex';
import type { Checkpoints } from './checkpoints.js';
import { type Projector, tableNames } from './types.js';

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/**
 * Creates a generation's empty storage: its physical tables, or the projector's own setup. With
 * `deferIndexes` (a rebuild) the secondary indexes wait for `indexGeneration`, once it is filled.
 */
export async function setupGeneration(
  trx: Knex.Transaction,
  projector: Projector,
  generation: number,
  opts: { deferIndexes?: boolean } = {},
): Promise<void> {
  if (projector.kind === 'postgres') {
    const t = tableNames(generation);
    for (const table of projector.tables) await trx.raw(`drop table if exists ${q(t(table))} cascade`);
    await projector.setup(trx, t);
    if (!opts.deferIndexes) for (const sql of projector.indexes?.(t) ?? []) await trx.raw(sql);
  } else {
    await projector.setup?.(generation);
  }
}

/**
 * Memory each index build may sort in. Postgres's default (64 MB) sorts a b-tree over a million
 * loads on disk: measured 2.5 s for one, 1.6 s with 256 MB.
 */
const INDEX_BUILD_MEMORY = '256MB';

/**
 * Creates a generation's secondary indexes (those it lacks), `parallel` at a time, each on its own
 * connection, in the projector's order (the slowest first). Postgres builds a GiST index in one
 * process, and one index after another left the other cores idle: the board's two GiST indexes
 * over a million loads took 15 s each, one after the other.
 */
export async function indexGeneration(
  db: Knex,
  projector: Projector,
  generation: number,
  opts: { parallel?: number } = {},
): Promise<void> {
  if (projector.kind !== 'postgres') return;
  const todo = [...(projector.indexes?.(tableNames(generation)) ?? [])];
  const worker = async () => {
    for (let sql = todo.shift(); sql !== undefined; sql = todo.shift()) {
      await db
        .transaction(async (trx) => {
          await trx.raw(`set local maintenance_work_mem = '${INDEX_BUILD_MEMORY}'`);
          await trx.raw(sql);
        })
        .catch((err: unknown) => {
          todo.length = 0; // the others finish the index in hand and stop
          throw err;
        });
    }
  };
  const done = await Promise.allSettled(Array.from({ length: Math.max(1, opts.parallel ?? 2) }, worker));
  for (const d of done) if (d.status === 'rejected') throw d.reason;
}

/**
 * Gathers the planner's statistics of a generation's tables. A generation filled in bulk has none
 * until autovacuum comes by (never, where it is off), and the planner then takes a table of a
 * million rows for one of a few: the open board as a carrier ran at 13 req/s that way, 0.9 ms a
 * query once analyzed (issue 22).
 */
export async function analyzeGeneration(db: Knex, projector: Projector, generation: number): Promise<void> {
  if (projector.kind !== 'postgres') return;
  const t = tableNames(generation);
  // Each table on its own connection: the board's analyze need not wait for its history's.
  await Promise.all(projector.tables.map((table) => db.raw(`analyze ${q(t(table))}`)));
}

/** Points each logical table's view at `generation`'s table; part of the switch transaction. */
export async function pointViews(trx: Knex.Transaction, projector: Projector, generation: number): Promise<void> {
  if (projector.kind !== 'postgres') return;
  const t = tableNames(generation);
  for (const table of projector.tables) {
    await trx.raw(`drop view if exists ${q(table)}`);
    await trx.raw(`create view ${q(table)} as select * from ${q(t(table))}`);
  }
}

export async function dropGeneration(knex: Knex, projector: Projector, generation: number): Promise<void> {
  if (projector.kind === 'postgres') {
    const t = tableNames(generation);
    for (const table of projector.tables) await knex.raw(`drop table if exists ${q(t(table))}`);
  } else {
    await projector.retire?.(generation);
  }
}

/** Makes `generation` live: views, statuses and the projection's live pointer, in `trx`. */
export async function switchLive(
  trx: Knex.Transaction,
  checkpoints: Checkpoints,
  projector: Projector,
  generation: number,
  previous: number | null,
): Promise<void> {
  await pointViews(trx, projector, generation);
  if (previous !== null && previous !== generation)
    await checkpoints.setStatus(trx, projector.name, previous, 'retired');
  await checkpoints.setStatus(trx, projector.name, generation, 'live');
  await checkpoints.setLive(trx, projector.name, generation);
}
