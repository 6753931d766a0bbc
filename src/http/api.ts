import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { Authenticator } from '../auth/authenticate.js';
import { ActivePrincipals } from '../auth/principals.js';
import { TokenVerifier } from '../auth/tokens.js';
import type { Services } from '../application/services.js';
import type { EventStore } from '../eventstore/types.js';
import { type Config, jwtSettings } from '../infra/config.js';
import type { SearchIndex } from '../read-models/search/types.js';
import { LatestLocations } from '../read-models/tracking/latest.js';
import type { ProjectionProgress } from '../projections/progress.js';
import type { Projector } from '../projections/types.js';
import { IdempotencyStore } from './idempotency.js';
import type { Route } from './route.js';
import { carrierDirectoryRoutes } from './routes/carrier-directory.js';
import { carrierCommandRoutes } from './routes/carriers.js';
import { loadBoardRoutes, type SharedPage } from './routes/load-board.js';
import { PageCache } from '../read-models/load-board/page-cache.js';
import { searchRoutes } from './routes/search.js';
import { loadCommandRoutes } from './routes/load-commands.js';
import { organisationRoutes } from './routes/organisations.js';
import { trackingRoutes } from './routes/tracking.js';
import { jobRoutes } from './routes/jobs.js';
import { projectionRoutes } from './routes/projections.js';
import { paymentRoutes } from './routes/payments.js';
import { ledgerRoutes } from './routes/ledger.js';
import type { JobQueues } from '../jobs/queues.js';
import type { Middleware } from 'koa';
import { queueBoard } from './queue-board.js';
import { RateLimits } from './middleware/rate-limits.js';
import { stripeWebhook } from './webhooks/stripe.js';
import type { Logger } from '../infra/logger.js';

export interface ApiDeps {
  auth: Authenticator;
  idempotency: IdempotencyStore;
  routes: Route[];
  limits?: RateLimits;
  /** Origins allowed to call from a browser; empty: no CORS. */
  corsOrigins?: string[];
  /** Extra middleware the API mounts before its routes (the admin queue board). */
  middleware?: Middleware[];
}

export type ApiConfig = Pick<
  Config,
  | 'NODE_ENV'
  | 'JWT_SECRET'
  | 'JWT_JWKS_URL'
  | 'JWT_ISSUER'
  | 'JWT_AUDIENCE'
  | 'PLATFORM_ORG_ID'
  | 'IDEMPOTENCY_TTL_SECONDS'
  | 'MIN_POSITION_WAIT_MS'
  | 'BOARD_CACHE_MS'
  | 'MEILI_URL'
  | 'MEILI_API_KEY'
  | 'TRACKING_MAX_PING_AGE_HOURS'
  | 'TRACKING_CLOCK_SKEW_SECONDS'
  | 'TRACKING_MAX_SPEED_MPH'
  | 'GEOFENCE_RADIUS_MI'
  | 'PICKUP_FIX_MAX_AGE_MINUTES'
  | 'TRACKING_RETENTION_DAYS'
  | 'QUICKPAY_FEE_BPS'
  | 'QUICKPAY_MIN_FEE_CENTS'
  | 'STRIPE_WEBHOOK_SECRET'
  | 'STRIPE_WEBHOOK_TOLERANCE_SECONDS'
  | 'RATE_LIMIT_PER_IP'
  | 'RATE_LIMIT_PER_USER'
  | 'RATE_LIMIT_GPS'
  | 'RATE_LIMIT_PAYMENTS'
  | 'RATE_LIMIT_LOADBOARD'
  | 'CORS_ORIGINS'
>;

/** Wires the API role: token verification, the cached principal check, idempotency, every feature's routes. */
export function createApi(deps: {
  knex: Knex;
  /** Where queries go (a read replica); default `knex`. Commands never use it. */
  readKnex?: Knex;
  redis: Redis;
  store: EventStore;
  /** The aggregates' services: every command route runs through them. */
  services: Services;
  projectors: readonly Projector[];
  /** Where `?minPosition=` reads wait; its owner starts and stops it. */
  progress: ProjectionProgress;
  principals?: ActivePrincipals;
  search: SearchIndex;
  /** The job queues: adds the admin job routes and the queue board. */
  queues?: JobQueues;
  /** For what the webhook endpoint refuses. */
  logger?: Logger;
  config: ApiConfig;
}): ApiDeps {
  const { knex, redis, store, services, projectors, config } = deps;
  const principals = deps.principals ?? new ActivePrincipals({ redis, knex, platformOrgId: config.PLATFORM_ORG_ID });
  // Queries (and their read-your-writes waits, which read the checkpoints beside the rows) use the
  // read pool: on a replica both arrive together, in commit order.
  const read = {
    knex: deps.readKnex ?? knex,
    store,
    projectors,
    progress: deps.progress,
    minPositionWaitMs: config.MIN_POSITION_WAIT_MS,
  };
  const locations = new LatestLocations(redis);
  const auth = new Authenticator(new TokenVerifier(jwtSettings(config as Config)), principals);
  return {
    auth,
    limits: new RateLimits(redis, {
      perIp: config.RATE_LIMIT_PER_IP,
      perUser: {
        default: config.RATE_LIMIT_PER_USER,
        gps: config.RATE_LIMIT_GPS,
        payments: config.RATE_LIMIT_PAYMENTS,
        loadboard: config.RATE_LIMIT_LOADBOARD,
      },
    }),
    corsOrigins: (config.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    middleware: [
      ...(config.STRIPE_WEBHOOK_SECRET && deps.logger
        ? [
            stripeWebhook({
              knex,
              payments: services.payments,
              logger: deps.logger,
              secret: config.STRIPE_WEBHOOK_SECRET,
              toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
            }),
          ]
        : []),
      ...(deps.queues ? [queueBoard(deps.queues, auth)] : []),
    ],
    idempotency: new IdempotencyStore(redis, config.IDEMPOTENCY_TTL_SECONDS),
    routes: [
      ...organisationRoutes({ ...read, organisations: services.organisations }),
      ...carrierCommandRoutes(services),
      ...carrierDirectoryRoutes(read),
      ...loadCommandRoutes(services),
      ...loadBoardRoutes({
        ...read,
        pages: new PageCache<SharedPage>({
          maxAgeMs: config.BOARD_CACHE_MS,
          stamp: () => deps.progress.changes('load_board'),
        }),
      }),
      ...searchRoutes({ ...read, search: deps.search }),
      ...trackingRoutes({
        knex,
        tracking: services.tracking,
        locations,
        limits: {
          maxAgeMs: config.TRACKING_MAX_PING_AGE_HOURS * 3_600_000,
          futureSkewMs: config.TRACKING_CLOCK_SKEW_SECONDS * 1_000,
          maxSpeedMph: config.TRACKING_MAX_SPEED_MPH,
        },
      }),
      ...ledgerRoutes(read),
      ...paymentRoutes({
        payments: services.payments,
        quickPay: { feeBps: config.QUICKPAY_FEE_BPS, minFeeCents: config.QUICKPAY_MIN_FEE_CENTS },
      }),
      ...(deps.queues ? jobRoutes({ queues: deps.queues, carriers: services.carriers }) : []),
      ...projectionRoutes({ knex, projectors }),
    ],
  };
}
