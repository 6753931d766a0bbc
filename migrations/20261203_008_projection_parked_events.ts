import type { Knex } from 'knex';

/*
 * Events a projector could not apply (issue 20). With the "park" policy the projector records the
 * event here and goes on past it; with "stop" it records the event it stopped on ('stopped') and
 * waits for an operator to retry or skip it ('retrying', 'skipping' while the projector acts on
 * that). Rows belong to one generation: a rebuild's switch clears the old generation's, and the
 * new generation lists only what still fails. The event is kept whole, so it can be looked at and
 * applied again without reading the log.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table projection_parked_events (
      name           text           not null,
      generation     int            not null,
      event_id       text           not null,
      event_commit   numeric(20, 0) not null,
      event_prepare  numeric(20, 0) not null,
      stream_id      text           not null,
      event_type     text           not null,
      event          jsonb          not null,
      error          text           not null,
      attempts       int            not null,
      status         text           not null check (status in ('parked', 'stopped', 'retrying', 'skipping', 'retried', 'skipped')),
      parked_at      timestamptz    not null default now(),
      resolved_at    timestamptz,
      resolved_by    text,
      primary key (name, generation, event_id),
      foreign key (name, generation) references projection_generations (name, generation)
    );
    create index projection_parked_events_by_position on projection_parked_events (name, generation, event_commit, event_prepare);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists projection_parked_events');
}
