import type { Knex } from 'knex';

/**
 * Extensions the read models use, all in Postgres contrib (no PostGIS needed): cube +
 * earthdistance for radius and deadhead queries with a GiST index, pg_trgm for typo-tolerant
 * commodity search when Meilisearch is not configured.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create extension if not exists cube');
  await knex.raw('create extension if not exists earthdistance');
  await knex.raw('create extension if not exists pg_trgm');
}

export async function down(): Promise<void> {
  // Extensions may be shared with other schemas of the database: left in place.
}
