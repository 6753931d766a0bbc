import type { Knex } from 'knex';
import type { EventStore, Position, RecordedEvent } from '../eventstore/types.js';
import type { Logger } from '../infra/logger.js';
import { formatPosition } from '../eventstore/position.js';
import { applyBatch, ProjectorFailed } from './apply.js';
import type { Checkpoints } from './checkpoints.js';
import { analyzeGeneration, dropGeneration, indexGeneration, setupGeneration, switchLive } from './generations.js';
import { applyOneByOne, isTransient, type ParkedEvents } from './parked.js';
import { type PoisonPolicy, type Projector, projectorFilter } from './types.js';

export interface RebuildProgress {
  projector: string;
  generation: number;
  applied: number;
  /** Events to apply in all, when known (it can grow while live traffic continues). */
  total: number;
  phase: 'building' | 'switching' | 'done';
}

export class RebuildInProgress extends Error {
  constructor(name: string) {
    super(`A rebuild of ${name} is already running in another process`);
    this.name = 'RebuildInProgress';
  }
}

const COUNT_LIMIT = 50_000_000;

/**
 * Builds a new generation of `projector` from the start of history beside the live one, catches
 * up to the head, then switches atomically: under the projection's row lock (which live runners
 * also take per batch) it applies the last events, points the views at the new tables and marks
 * it live. An unfinished build of the same version (a killed rebuild) is resumed from its own
 * checkpoint; a session advisory lock keeps two rebuilds of one projector apart.
 */
export async function rebuildProjection(deps: {
  knex: Knex;
  store: EventStore;
  checkpoints: Checkpoints;
  projector: Projector;
  logger: Logger;
  batchSize: number;
  /** Where events the projector cannot apply are parked, under the 'park' policy; without it (or under 'stop') such an event fails the rebuild. */
  parked?: ParkedEvents;
  poisonPolicy?: PoisonPolicy;
  onProgress?: (p: RebuildProgress) => void;
  signal?: AbortSignal;
}): Promise<{ generation: number; applied: number; parked: number; parkedCleared: number }> {
  const { knex, store, checkpoints, projector, logger, batchSize } = deps;
  const filter = projectorFilter(projector);
  await checkpoints.ensure(projector.name);

  const conn = (await knex.client.acquireConnection()) as {
    query(text: string, values: unknown[]): Promise<{ rows: { ok: boolean }[] }>;
  };
  const lockKey = `projection-rebuild:${projector.name}`;
  try {
    const { rows } = await conn.query('select pg_try_advisory_lock(hashtext($1)) as ok', [lockKey]);
    if (!rows[0]?.ok) throw new RebuildInProgress(projector.name);

    // Resume an unfinished build of this version; give up builds of other versions.
    let generation: number | undefined;
    for (const g of await checkpoints.all()) {
      if (g.name !== projector.name || g.status !== 'building') continue;
      if (g.version === projector.version && generation === undefined) generation = g.generation;
      else {
        await dropGeneration(knex, projector, g.generation);
        await checkpoints.setStatus(knex, projector.name, g.generation, 'failed');
        await deps.parked?.clearGeneration(knex, projector.name, g.generation);
      }
    }
    if (generation === undefined) {
      generation = await knex.transaction(async (trx) => {
        const g = await checkpoints.create(trx, projector.name, projector.version, 'building');
        await setupGeneration(trx, projector, g, { deferIndexes: true });
        return g;
      });
      logger.info('rebuild started', { projector: projector.name, version: projector.version, generation });
    } else {
      logger.info('rebuild resumed', { projector: projector.name, version: projector.version, generation });
    }
    const gen = generation;

    const start = (await checkpoints.generation(projector.name, gen))!;
    let position: Position | 'start' = start.checkpoint ?? 'start';
    let applied = Number(start.eventsApplied);
    let total = applied + (await store.countEvents({ after: start.checkpoint, filter, limit: COUNT_LIMIT }));
    const report = (phase: RebuildProgress['phase']) =>
      deps.onProgress?.({
        projector: projector.name,
        generation: gen,
        applied,
        total: Math.max(total, applied),
        phase,
      });
    report('building');

    // A page the projector fails on: under 'park', apply it an event at a time and park what fails
    // on its own in this generation (in savepoints of `trx`, which a failed statement would spoil).
    let parkedNow = 0;
    const applyPage = async (page: RecordedEvent[], trx?: Knex.Transaction): Promise<number> => {
      try {
        const run = (t?: Knex.Transaction) =>
          applyBatch(knex, checkpoints, projector, gen, page, { live: false, ...(t ? { trx: t } : {}) });
        return (await (trx ? trx.transaction((sp) => run(sp)) : run())).length;
      } catch (err) {
        if (!(err instanceof ProjectorFailed) || isTransient(err.cause) || deps.poisonPolicy !== 'park' || !deps.parked)
          throw err;
        const r = await applyOneByOne({
          knex,
          checkpoints,
          parked: deps.parked,
          projector,
          generation: gen,
          events: page,
          live: false,
          policy: 'park',
          ...(trx ? { trx } : {}),
          onParked: (e, cause) =>
            logger.warn('rebuild parked an event the projector cannot apply', {
              projector: projector.name,
              generation: gen,
              position: formatPosition(e.position),
              eventId: e.id,
              type: e.type,
              err: cause,
            }),
        });
        parkedNow += r.parked;
        return r.applied.length;
      }
    };

    // Catch up outside any long transaction: live traffic keeps flowing to the old generation.
    // The next page is read while this one is applied (reading and writing overlap).
    let next = store.readAll({ fromPosition: position, maxCount: batchSize, filter });
    for (;;) {
      if (deps.signal?.aborted) {
        await next.catch(() => {});
        throw new Error('rebuild aborted');
      }
      const page = await next;
      if (page.length === 0) break;
      position = page[page.length - 1]!.position;
      next = store.readAll({ fromPosition: position, maxCount: batchSize, filter });
      // A failed apply must not leave the read ahead unhandled.
      applied += await applyPage(page).catch(async (err: unknown) => {
        await next.catch(() => {});
        throw err;
      });
      if (applied > total) total = applied + (await store.countEvents({ after: position, filter, limit: COUNT_LIMIT }));
      report('building');
    }
    // Index the filled tables once and gather their statistics, still outside the switch (live
    // runners are not held up): the first query after the switch is planned on real row counts.
    await indexGeneration(knex, projector, gen);
    await analyzeGeneration(knex, projector, gen);

    report('switching');
    const switched = await knex.transaction(async (trx) => {
      const live = await checkpoints.lockLive(trx, projector.name);
      // The last events under the lock: live runners wait, so nothing is applied twice or missed.
      for (;;) {
        const page = await store.readAll({ fromPosition: position, maxCount: batchSize, filter });
        if (page.length === 0) break;
        applied += await applyPage(page, trx);
        position = page[page.length - 1]!.position;
      }
      await switchLive(trx, checkpoints, projector, gen, live);
      // What the old generation had parked goes with it: the new one lists what still fails.
      const cleared =
        live !== null && live !== gen && deps.parked ? await deps.parked.clearGeneration(trx, projector.name, live) : 0;
      return { live, cleared };
    });
    const { live: previous, cleared } = switched;
    if (previous !== null && previous !== gen) await dropGeneration(knex, projector, previous);
    total = applied;
    report('done');
    const stillParked = deps.parked ? (await deps.parked.list(projector.name, { limit: 1, offset: 0 })).total : 0;
    logger.info('rebuild switched live', {
      projector: projector.name,
      generation: gen,
      previous,
      applied,
      parkedCleared: cleared,
      parked: stillParked,
      parkedNow,
    });
    return { generation: gen, applied, parked: stillParked, parkedCleared: cleared };
  } finally {
    await conn.query('select pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => {});
    await knex.client.releaseConnection(conn);
  }
}
