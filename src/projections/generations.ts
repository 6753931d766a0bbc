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
    if (!opts.deferIndexes) await projector.indexes?.(trx, t);
  } else {
    await projector.setup?.(generation);
  }
}

/** Creates a generation's secondary indexes (those it lacks). */
export async function indexGeneration(db: Knex, projector: Projector, generation: number): Promise<void> {
  if (projector.kind === 'postgres') await projector.indexes?.(db, tableNames(generation));
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
  for (const table of projector.tables) await db.raw(`analyze ${q(t(table))}`);
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
