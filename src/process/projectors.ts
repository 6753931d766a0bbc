import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { ActivePrincipals } from '../auth/principals.js';
import { geofenceReactor } from '../reactors/geofence.js';
import type { PaymentTerms } from '../application/payments.js';
import type { Services } from '../application/services.js';
import { servicesFor } from './services.js';
import { invoicingReactor } from '../reactors/invoicing.js';
import { DEFAULT_LOCATION_POLICY, type LocationPolicy } from '../domain/load/location.js';
import type { EventStore } from '../eventstore/types.js';
import type { JobQueues } from '../jobs/queues.js';
import { jobReactors } from '../reactors/jobs.js';
import { type Config, locationPolicy } from '../infra/config.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { type Broadcaster, channelKey, RedisBroadcaster } from '../realtime/broadcaster.js';
import { boardNotifications, locationNotifications } from '../realtime/notifications.js';
import { MeiliSearchIndex } from '../read-models/search/meilisearch.js';
import { PostgresSearchIndex } from '../read-models/search/postgres.js';
import { loadSearchProjector } from '../read-models/search/projector.js';
import type { SearchIndex } from '../read-models/search/types.js';
import { carrierDirectoryProjector } from '../read-models/carrier-directory/projector.js';
import { loadBoardProjector } from '../read-models/load-board/projector.js';
import { ledgerProjector } from '../read-models/ledger/projector.js';
import { organisationsProjector } from '../read-models/organisations/projector.js';
import { principalsProjector } from '../read-models/principals/projector.js';
import { streamIndexProjector } from '../read-models/stream-index/projector.js';
import { trackHistoryProjector } from '../read-models/tracking/history-projector.js';
import { LatestLocations } from '../read-models/tracking/latest.js';
import { trackingLatestProjector } from '../read-models/tracking/latest-projector.js';
import type { Projector } from '../projections/types.js';

export interface ProjectorDeps {
  principals: ActivePrincipals;
  search: SearchIndex;
  store: EventStore;
  /** The services the reactors run commands through. */
  services: Pick<Services, 'loads' | 'payments'>;
  locations: LatestLocations;
  /** Where the reactors queue jobs (FMCSA checks, scores, notifications); absent, those reactors do not run (read-model benchmarks). */
  queues?: JobQueues;
  /** The platform fee and payout terms of new invoices (default: 5%, 30 days). */
  paymentTerms?: PaymentTerms;
  /** The geofence of the arrival reactor (default: DEFAULT_LOCATION_POLICY). */
  locationPolicy?: LocationPolicy;
  /** Tell dashboards of committed changes (Socket.IO through Redis); absent, nobody is told. */
  notify?: { knex: Knex; broadcaster: Broadcaster; locationIntervalMs: number };
}

/** The load board and the latest locations, telling dashboards after they commit. */
function withNotifications(projectors: Projector[], deps: ProjectorDeps): Projector[] {
  const n = deps.notify;
  if (!n) return projectors;
  return projectors.map((p) => {
    if (p.name === loadBoardProjector.name) return { ...p, afterCommit: boardNotifications(n.knex, n.broadcaster) };
    if (p.name === 'tracking_latest') {
      const locations = locationNotifications(deps.locations, n.broadcaster, n.locationIntervalMs);
      return { ...p, afterCommit: locations.afterCommit, close: locations.close };
    }
    return p;
  });
}

/** Every projector (and log-following reactor) the service runs. Later read models register here. */
export function allProjectors(deps: ProjectorDeps): Projector[] {
  return withNotifications(
    [
      streamIndexProjector,
      organisationsProjector,
      principalsProjector(deps.principals),
      loadBoardProjector,
      carrierDirectoryProjector,
      loadSearchProjector(deps.search, deps.store),
      ...(deps.queues ? jobReactors(deps.queues) : []),
      trackingLatestProjector(deps.locations),
      trackHistoryProjector,
      geofenceReactor(deps.services.loads, deps.locationPolicy ?? DEFAULT_LOCATION_POLICY),
      invoicingReactor(deps.services, deps.paymentTerms ?? { feeBps: 500, termsDays: 30 }),
      ledgerProjector,
    ],
    deps,
  );
}

/** The projectors of a running process, wired to its connections. */
export function projectorsFor(runtime: {
  knex: Knex;
  /** Default: the services of `store`, as servicesFor builds them. */
  services?: Pick<Services, 'loads' | 'payments'>;
  redis: Redis;
  queues: JobQueues;
  store: EventStore;
  logger: Logger;
  /** Counts the messages the projectors broadcast. */
  metrics?: Metrics;
  config: Pick<
    Config,
    | 'PLATFORM_ORG_ID'
    | 'MEILI_URL'
    | 'MEILI_API_KEY'
    | 'GEOFENCE_RADIUS_MI'
    | 'PICKUP_FIX_MAX_AGE_MINUTES'
    | 'REDIS_KEY_PREFIX'
    | 'REALTIME_LOCATION_INTERVAL_MS'
    | 'PLATFORM_FEE_BPS'
    | 'CARRIER_PAYOUT_TERMS_DAYS'
    | 'TRACKING_RETENTION_DAYS'
  >;
}): Projector[] {
  const broadcaster = new RedisBroadcaster(
    runtime.redis,
    channelKey(runtime.config.REDIS_KEY_PREFIX),
    (err) => runtime.logger.warn('a realtime message could not be published', { err }),
    (event) => runtime.metrics?.socketMessages.inc({ event }),
  );
  return allProjectors({
    principals: new ActivePrincipals({
      redis: runtime.redis,
      knex: runtime.knex,
      platformOrgId: runtime.config.PLATFORM_ORG_ID,
    }),
    search: searchIndexFor(runtime),
    store: runtime.store,
    services: runtime.services ?? servicesFor(runtime),
    locations: new LatestLocations(runtime.redis),
    queues: runtime.queues,
    paymentTerms: { feeBps: runtime.config.PLATFORM_FEE_BPS, termsDays: runtime.config.CARRIER_PAYOUT_TERMS_DAYS },
    locationPolicy: locationPolicy(runtime.config),
    notify: { knex: runtime.knex, broadcaster, locationIntervalMs: runtime.config.REALTIME_LOCATION_INTERVAL_MS },
  });
}

/** Meilisearch when MEILI_URL is set, else Postgres full-text + trigram. */
export function searchIndexFor(runtime: {
  knex: Knex;
  config: Pick<Config, 'MEILI_URL' | 'MEILI_API_KEY'>;
}): SearchIndex {
  const { MEILI_URL, MEILI_API_KEY } = runtime.config;
  return MEILI_URL ? new MeiliSearchIndex(MEILI_URL, MEILI_API_KEY) : new PostgresSearchIndex(runtime.knex);
}
