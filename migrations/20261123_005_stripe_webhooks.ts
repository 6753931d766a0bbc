import type { Knex } from 'knex';

/*
 * Stripe webhook deliveries, by Stripe event id: a repeated delivery is recognised and answered
 * without acting twice. `processed_at` stays null until the event was acted on, so a delivery that
 * failed half way (answered 5xx) is acted on when Stripe delivers it again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table stripe_webhook_events (
      event_id     text primary key,
      type         text not null,
      received_at  timestamptz not null default now(),
      processed_at timestamptz,
      outcome      text
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists stripe_webhook_events');
}
