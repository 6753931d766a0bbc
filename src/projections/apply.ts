import type { Knex } from 'knex';
import { comparePositions, formatPosition } from '../eventstore/position.js';
import type { Position, RecordedEvent } from '../eventstore/types.js';
import type { Checkpoints } from './checkpoints.js';
import { type AtLeastOnceProjector, type Projector, tableNames } from './types.js';

/** The generation a batch was meant for is no longer the live one (a rebuild switched). */
export class GenerationChanged extends Error {
  constructor(readonly projector: string) {
    super(`${projector}: the live generation changed`);
    this.name = 'GenerationChanged';
  }
}

/** A projector's own code threw on a batch; says where, so an operator can find the event. */
export class ProjectorFailed extends Error {
  constructor(
    readonly projector: string,
    readonly generation: number,
    readonly events: readonly RecordedEvent[],
    override readonly cause: unknown,
  ) {
    const first = events[0]!;
    const last = events[events.length - 1]!;
    super(
      `${projector} (generation ${generation}) failed on a batch of ${events.length} event(s) from ${formatPosition(first.position)} ` +
        `(${first.type} in ${first.streamId}) to ${formatPosition(last.position)}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'ProjectorFailed';
  }
}

/**
 * A projection batch commits without waiting for its WAL to reach the disk. Its rows and its
 * checkpoint are one transaction, so a crash that loses the last batches loses both together and
 * the projector applies those events again from the older checkpoint: nothing is lost or applied
 * twice. Each of the dozen projectors commits its own batches, and each flush it waits for is one
 * the appends (which stay synchronous: the log is the source of truth) queue behind.
 */
const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true)`;

/**
 * Hands `events` to the projector for `generation` (a Postgres projector writes in `trx`), without
 * looking at the checkpoint; what its own code throws comes out as ProjectorFailed.
 */
export async function applyEvents(
  trx: Knex.Transaction,
  projector: Projector,
  generation: number,
  events: readonly RecordedEvent[],
  ctx: { rebuilding: boolean },
): Promise<void> {
  try {
    if (projector.kind === 'postgres') await projector.apply(trx, events, tableNames(generation), ctx);
    else await projector.apply(events, generation);
  } catch (err) {
    throw new ProjectorFailed(projector.name, generation, events, err);
  }
}

/**
 * Whether a projector's live batches write ahead of their checkpoint (see applyAhead): an
 * at-least-once projector that keeps one storage whatever the generation (it has neither `setup`
 * nor `retire`), so no rebuild's switch can retire what a batch is writing to.
 */
export function writesAhead(p: Projector): p is AtLeastOnceProjector {
  return p.kind === 'at-least-once' && !p.setup && !p.retire;
}

/**
 * A live batch of a projector that writes ahead (see writesAhead), from a loop that holds the
 * projector (its lease) and knows where its checkpoint stands (`after`: the loop moves it alone).
 * Its writes go first, holding no connection and waiting for no lock; `written` is told of them
 * (dashboards hear of a change as soon as it is readable); then the checkpoint moves on in one
 * statement. A batch in a Postgres transaction spent four round trips and a pooled connection around
 * its writes, and told dashboards only after its commit. Answers the events it applied (those after
 * `after`). Throws GenerationChanged when a rebuild's switch made another generation live: its
 * writes were made, and the new generation applies them again (the projector is idempotent).
 */
export async function applyAhead(
  checkpoints: Checkpoints,
  projector: AtLeastOnceProjector,
  generation: number,
  events: readonly RecordedEvent[],
  opts: { after?: Position; skippedTo?: Position; written?(applied: readonly RecordedEvent[]): Promise<void> },
): Promise<readonly RecordedEvent[]> {
  const { after, skippedTo } = opts;
  const fresh = after ? events.filter((e) => comparePositions(e.position, after) > 0) : events;
  let to = fresh[fresh.length - 1]?.position;
  if (skippedTo && (!to || comparePositions(skippedTo, to) > 0)) to = skippedTo;
  if (!to || (after && comparePositions(to, after) <= 0)) return [];
  if (fresh.length > 0) {
    try {
      await projector.apply(fresh, generation);
    } catch (err) {
      throw new ProjectorFailed(projector.name, generation, fresh, err);
    }
    await opts.written?.(fresh);
  }
  if (!(await checkpoints.advanceLive(projector.name, generation, to, fresh.length)))
    throw new GenerationChanged(projector.name);
  return fresh;
}

/**
 * Applies a batch to one generation and moves its checkpoint. Events at or before the stored
 * checkpoint are dropped, so a batch replayed after a crash, or seen by two runner processes,
 * is applied once. `skippedTo` moves the checkpoint on past events the projector's filter skipped. For Postgres projectors the rows and the checkpoint share one transaction
 * (`trx` when the caller holds one, else a new one); `live` demands the generation still be live.
 * Answers the events it applied (none of those at or before the checkpoint).
 */
export async function applyBatch(
  knex: Knex,
  checkpoints: Checkpoints,
  projector: Projector,
  generation: number,
  events: readonly RecordedEvent[],
  opts: { live: boolean; trx?: Knex.Transaction; skippedTo?: Position },
): Promise<readonly RecordedEvent[]> {
  const run = async (trx: Knex.Transaction) => {
    type Gen = { checkpoint_commit: string | null; checkpoint_prepare: string | null };
    let gen: Gen | undefined;
    if (opts.live) {
      // The projector's row (which a rebuild's switch also locks) and the generation's, in one round
      // trip: a live batch holds a transaction id from here to its commit, and every reader of $all
      // waits for it (they read below the oldest open one), so the fewer round trips the better.
      const { rows } = await trx.raw<{ rows: (Gen & { live_generation: number | null })[] }>(
        `select ${ASYNC_COMMIT}, p.live_generation, g.checkpoint_commit, g.checkpoint_prepare
           from projections p join projection_generations g on g.name = p.name and g.generation = ?
          where p.name = ? for update of p, g`,
        [generation, projector.name],
      );
      const row = rows[0];
      if (!row && (await checkpoints.lockLive(trx, projector.name)) !== generation)
        throw new GenerationChanged(projector.name);
      if (row && row.live_generation !== generation) throw new GenerationChanged(projector.name);
      gen = row;
    } else {
      await trx.raw(`select ${ASYNC_COMMIT}`);
      gen = await trx('projection_generations')
        .where({ name: projector.name, generation })
        .forUpdate()
        .first<Gen>('checkpoint_commit', 'checkpoint_prepare');
    }
    if (!gen) throw new Error(`${projector.name}: generation ${generation} does not exist`);
    const cp =
      gen.checkpoint_commit === null
        ? undefined
        : { commit: BigInt(gen.checkpoint_commit), prepare: BigInt(gen.checkpoint_prepare!) };
    const fresh = cp ? events.filter((e) => comparePositions(e.position, cp) > 0) : events;
    let to = fresh[fresh.length - 1]?.position;
    if (opts.skippedTo && (!to || comparePositions(opts.skippedTo, to) > 0)) to = opts.skippedTo;
    if (!to || (cp && comparePositions(to, cp) <= 0)) return [];
    if (fresh.length > 0) await applyEvents(trx, projector, generation, fresh, { rebuilding: !opts.live });
    await checkpoints.advance(trx, projector.name, generation, to, fresh.length);
    return fresh;
  };
  if (opts.trx) return run(opts.trx);
  // For at-least-once projectors the side effects of `apply` happen before the checkpoint
  // commits, so a crash in between replays the batch (the projector is idempotent).
  return knex.transaction(run);
}
