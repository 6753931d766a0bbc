import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { createServices, type Services } from '../application/services.js';
import type { EventStore } from '../eventstore/types.js';
import { type Config, locationPolicy } from '../infra/config.js';
import { HAULING } from '../application/tracking.js';
import { loadsOfDriver } from '../read-models/load-board/queries.js';
import { userBelongsElsewhere } from '../read-models/organisations/queries.js';
import { LatestLocations } from '../read-models/tracking/latest.js';

export type ServicesConfig = Pick<
  Config,
  'PLATFORM_ORG_ID' | 'GEOFENCE_RADIUS_MI' | 'PICKUP_FIX_MAX_AGE_MINUTES' | 'TRACKING_RETENTION_DAYS'
>;

/**
 * The aggregates' services, with what they look up outside the log bound to the read models and
 * caches that hold it: the truck's latest fix (Redis), the loads a driver hauls (the board), who
 * belongs to which organisation (the organisations read model).
 */
export function servicesFor(runtime: {
  store: EventStore;
  knex: Knex;
  redis: Redis;
  config: ServicesConfig;
}): Services {
  const locations = new LatestLocations(runtime.redis);
  return createServices(
    runtime.store,
    {
      lastFix: async (loadId) => (await locations.get(loadId))?.fix,
      loadsHauledBy: (driverId, limit) => loadsOfDriver(runtime.knex, driverId, HAULING, limit),
      userBelongsElsewhere: (userId, orgId) => userBelongsElsewhere(runtime.knex, userId, orgId),
    },
    {
      platformOrgId: runtime.config.PLATFORM_ORG_ID,
      locationPolicy: locationPolicy(runtime.config),
      trackingRetentionSeconds: runtime.config.TRACKING_RETENTION_DAYS * 86_400,
    },
  );
}
