import type { Knex } from 'knex';
import * as m001 from './20261122_001_event_store.js';
import * as m002 from './20261122_002_projections.js';
import * as m003 from './20261122_003_search_extensions.js';
import * as m004 from './20261123_004_tracking_retention.js';
import * as m005 from './20261123_005_stripe_webhooks.js';
import * as m006 from './20261203_006_es_append_reused_ids.js';
import * as m007 from './20261203_007_es_stable_bound.js';
import * as m008 from './20261203_008_projection_parked_events.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order. Listed by hand so the set is type-checked and needs no file loader. */
export const migrations: Record<string, Migration> = {
  '20261122_001_event_store': m001,
  '20261122_002_projections': m002,
  '20261122_003_search_extensions': m003,
  '20261123_004_tracking_retention': m004,
  '20261123_005_stripe_webhooks': m005,
  '20261203_006_es_append_reused_ids': m006,
  '20261203_007_es_stable_bound': m007,
  '20261203_008_projection_parked_events': m008,
};
