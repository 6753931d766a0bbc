import type { Knex } from 'knex';

/*
 * Projection bookkeeping. Each projector builds "generations": the live one serves reads; a
 * rebuild fills a new one beside it from the start of history, then switches atomically. A
 * generation's checkpoint is the position of the last event it has applied.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table projections (
      name            text primary key,
      live_generation int,
      updated_at      timestamptz not null default now()
    );

    create table projection_generations (
      name               text        not null references projections (name),
      generation         int         not null,
      version            int         not null,
      status             text        not null check (status in ('building', 'live', 'retired', 'failed')),
      checkpoint_commit  numeric(20, 0),
      checkpoint_prepare numeric(20, 0),
      events_applied     bigint      not null default 0,
      last_error         text,
      started_at         timestamptz not null default now(),
      updated_at         timestamptz not null default now(),
      switched_at        timestamptz,
      primary key (name, generation)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists projection_generations; drop table if exists projections;');
}
