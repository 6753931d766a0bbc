import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { ActivePrincipals } from '../auth/principals.js';
import { carrierPerformanceReactor } from '../application/carrier-performance.js';
import { geofenceReactor } from '../application/geofence.js';
import { DEFAULT_LOCATION_POLICY, type LocationPolicy } from '../domain/load/location.js';
import type { EventStore } from '../eventstore/types.js';
import { type Config, locationPolicy } from '../infra/config.js';
import { MeiliSearchIndex } from './search/meilisearch.js';
import { PostgresSearchIndex } from './search/postgres.js';
import { loadSearchProjector } from './search/projector.js';
import type { SearchIndex } from './search/types.js';
import { carrierDirectoryProjector } from './carrier-directory/projector.js';
import { loadBoardProjector } from './load-board/projector.js';
import { organisationsProjector } from './organisations/projector.js';
import { principalsProjector } from './principals/projector.js';
import { streamIndexProjector } from './stream-index/projector.js';
import { trackHistoryProjector } from './tracking/history-projector.js';
import { LatestLocations } from './tracking/latest.js';
import { trackingLatestProjector } from './tracking/latest-projector.js';
import type { Projector } from './types.js';

export interface ProjectorDeps {
  principals: ActivePrincipals;
  search: SearchIndex;
  store: EventStore;
  locations: LatestLocations;
  /** The geofence of the arrival reactor (default: DEFAULT_LOCATION_POLICY). */
  locationPolicy?: LocationPolicy;
}

/** Every projector (and log-following reactor) the service runs. Later read models register here. */
export function allProjectors(deps: ProjectorDeps): Projector[] {
  return [
    streamIndexProjector,
    organisationsProjector,
    principalsProjector(deps.principals),
    loadBoardProjector,
    carrierDirectoryProjector,
    loadSearchProjector(deps.search, deps.store),
    carrierPerformanceReactor(deps.store),
    trackingLatestProjector(deps.locations),
    trackHistoryProjector,
    geofenceReactor(deps.store, deps.locationPolicy ?? DEFAULT_LOCATION_POLICY),
  ];
}

/** The projectors of a running process, wired to its connections. */
export function projectorsFor(runtime: {
  knex: Knex;
  redis: Redis;
  store: EventStore;
  config: Pick<Config, 'PLATFORM_ORG_ID' | 'MEILI_URL' | 'MEILI_API_KEY' | 'GEOFENCE_RADIUS_MI' | 'PICKUP_FIX_MAX_AGE_MINUTES'>;
}): Projector[] {
  return allProjectors({
    principals: new ActivePrincipals({ redis: runtime.redis, knex: runtime.knex, platformOrgId: runtime.config.PLATFORM_ORG_ID }),
    search: searchIndexFor(runtime),
    store: runtime.store,
    locations: new LatestLocations(runtime.redis),
    locationPolicy: locationPolicy(runtime.config),
  });
}

/** Meilisearch when MEILI_URL is set, else Postgres full-text + trigram. */
export function searchIndexFor(runtime: { knex: Knex; config: Pick<Config, 'MEILI_URL' | 'MEILI_API_KEY'> }): SearchIndex {
  const { MEILI_URL, MEILI_API_KEY } = runtime.config;
  return MEILI_URL ? new MeiliSearchIndex(MEILI_URL, MEILI_API_KEY) : new PostgresSearchIndex(runtime.knex);
}
