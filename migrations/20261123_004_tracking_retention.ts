import type { Knex } from 'knex';

/*
 * GPS pings are most of the log and the only events with a retention: the retention job deletes
 * tracking streams' events by age, and this partial index finds them without scanning the rest
 * (and costs nothing on appends to other streams).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `create index es_events_tracking_created_at on es_events (created_at) where stream_id like 'tracking-%'`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists es_events_tracking_created_at');
}
