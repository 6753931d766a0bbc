import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { createApp } from '../http/app.js';
import { bootstrap } from '../process/runtime.js';
import { createApi } from '../http/api.js';
import { ProjectionProgress } from '../projections/progress.js';
import { createHttpServer } from '../http/server.js';
import { otlpHeaders, otlpTracesUrl, serverLimits } from '../infra/config.js';
import { instrumentStore } from '../eventstore/instrumented.js';
import { Metrics } from '../infra/metrics.js';
import { startTracing } from '../infra/tracing.js';
import { FmcsaClient } from '../integrations/fmcsa/client.js';
import { StripeProvider } from '../integrations/stripe/provider.js';
import { LogTransport } from '../jobs/notifications/transport.js';
import { startTrackingRetention } from '../jobs/retention.js';
import { queueCounts, startWorkers } from '../jobs/workers.js';
import { projectorsFor } from '../process/projectors.js';
import { ProjectorLeases } from '../projections/lease.js';
import { ProjectionRunner } from '../projections/runner.js';
import { LatestLocations } from '../read-models/tracking/latest.js';
import { channelKey } from '../realtime/broadcaster.js';
import { attachRealtime } from '../realtime/server.js';
import { DeliveryWatch } from '../eventstore/delivery-watch.js';
import { fail, startup } from './common.js';

const ROLES = ['api', 'projector', 'worker'] as const;
type Role = (typeof ROLES)[number];

const { values } = parseArgs({ options: { role: { type: 'string', multiple: true } } });
const roles = new Set<Role>();
for (const r of (values.role ?? ROLES.slice()).flatMap((v) => v.split(','))) {
  if (!(ROLES as readonly string[]).includes(r)) {
    process.stderr.write(`Unknown role "${r}": use --role ${ROLES.join('|')} (repeatable; default: all)\n`);
    process.exit(2);
  }
  roles.add(r as Role);
}

const { config, logger } = startup();

async function main() {
  // Tracing first, so everything this process does can be traced (off unless a collector is named).
  const otlpUrl = otlpTracesUrl(config);
  const tracing = otlpUrl
    ? startTracing({
        serviceName: config.OTEL_SERVICE_NAME ?? `freight-${[...roles].join('-')}`,
        otlpUrl,
        ...(config.OTEL_EXPORTER_OTLP_HEADERS ? { otlpHeaders: otlpHeaders(config.OTEL_EXPORTER_OTLP_HEADERS) } : {}),
        sampleRatio: config.OTEL_TRACES_SAMPLER_ARG,
      })
    : undefined;
  if (tracing) logger.info('tracing on', { otlpUrl: new URL(otlpUrl!).origin, sampleRatio: config.OTEL_TRACES_SAMPLER_ARG });
  const runtime = await bootstrap(config, logger);
  // Every append of this process (commands, reactors, jobs) is measured.
  const metrics = new Metrics();
  runtime.store = instrumentStore(runtime.store, metrics);
  let draining = false;

  // Projector: follows the log into the read models.
  const projectors = projectorsFor({ ...runtime, metrics });
  // One process runs each projector; the others stand by (leases), and take over when it dies.
  let onLeasesLost: (names: string[]) => void = () => {};
  const leases = roles.has('projector') && config.PROJECTOR_LEASES ? new ProjectorLeases(runtime.databaseUrl, logger, (names) => onLeasesLost(names)) : undefined;
  const runner = roles.has('projector')
    ? new ProjectionRunner({
        knex: runtime.knex,
        store: runtime.store,
        projectors,
        logger,
        databaseUrl: runtime.databaseUrl,
        batchSize: config.PROJECTION_BATCH_SIZE,
        ...(config.PROJECTION_POISON_POLICY ? { poisonPolicy: config.PROJECTION_POISON_POLICY } : {}),
        ...(leases ? { leases, leaseRetryMs: config.PROJECTOR_LEASE_RETRY_MS } : {}),
      })
    : undefined;
  onLeasesLost = (names) => runner?.leasesLost(names);
  runner?.start();

  metrics.onScrape(async () => {
    for (const [queue, byState] of Object.entries(await queueCounts(runtime.queues))) {
      for (const [state, n] of Object.entries(byState)) metrics.queueDepth.set({ queue, state }, n);
    }
  });

  // Worker: the job queues (FMCSA checks, re-checks, scores, expiry, notifications) and retention.
  const retention = roles.has('worker') ? startTrackingRetention({ store: runtime.store, knex: runtime.knex, logger }, config.TRACKING_RETENTION_DAYS) : undefined;
  const fmcsa =
    roles.has('worker') && config.FMCSA_WEB_KEY
      ? new FmcsaClient({
          baseUrl: config.FMCSA_BASE_URL,
          webKey: config.FMCSA_WEB_KEY,
          timeoutMs: config.FMCSA_TIMEOUT_MS,
          attempts: config.FMCSA_ATTEMPTS,
          breakerFailures: config.FMCSA_BREAKER_FAILURES,
          breakerOpenMs: config.FMCSA_BREAKER_OPEN_MS,
          cache: { redis: runtime.redis, seconds: config.FMCSA_CACHE_SECONDS },
          observe: (resource, outcome, ms) => metrics.fmcsaRequests.observe({ resource, outcome }, ms / 1000),
        })
      : undefined;
  if (fmcsa) metrics.onScrape(async () => void metrics.fmcsaCircuit.set(fmcsa.circuit === 'closed' ? 0 : 1));
  const stripe =
    roles.has('worker') && config.STRIPE_SECRET_KEY
      ? new StripeProvider({
          secretKey: config.STRIPE_SECRET_KEY,
          ...(config.STRIPE_API_HOST ? { host: config.STRIPE_API_HOST } : {}),
          ...(config.STRIPE_API_PORT ? { port: config.STRIPE_API_PORT } : {}),
          ...(config.STRIPE_API_PROTOCOL ? { protocol: config.STRIPE_API_PROTOCOL } : {}),
          timeoutMs: config.STRIPE_TIMEOUT_MS,
          networkRetries: config.STRIPE_NETWORK_RETRIES,
          breakerFailures: config.STRIPE_BREAKER_FAILURES,
          breakerOpenMs: config.STRIPE_BREAKER_OPEN_MS,
          observe: (operation, outcome, ms) => metrics.stripeRequests.observe({ operation, outcome }, ms / 1000),
        })
      : undefined;
  if (stripe) metrics.onScrape(async () => void metrics.stripeCircuit.set(stripe.circuit === 'closed' ? 0 : 1));
  const workers = roles.has('worker')
    ? await startWorkers({
        queues: runtime.queues,
        store: runtime.store,
        knex: runtime.knex,
        logger,
        metrics,
        ...(fmcsa ? { fmcsa } : {}),
        ...(stripe
          ? { payments: { provider: stripe, chargeAttempts: config.PAYMENT_CHARGE_ATTEMPTS, payoutAttempts: config.PAYMENT_PAYOUT_ATTEMPTS, retryMs: config.PAYMENT_RETRY_MS } }
          : {}),
        fmcsaPerSecond: config.FMCSA_PER_SECOND,
        insuranceTrustMs: config.FMCSA_INSURANCE_TRUST_HOURS * 3_600_000,
        transport: new LogTransport(logger),
        platformOrgId: config.PLATFORM_ORG_ID,
        notificationMaxAgeMs: config.NOTIFICATION_MAX_AGE_HOURS * 3_600_000,
        ...(config.CARRIER_RECHECK_CRON !== 'off' ? { recheckPattern: config.CARRIER_RECHECK_CRON } : {}),
        expirySweepMs: config.LOAD_EXPIRY_SWEEP_SECONDS * 1_000,
      })
    : undefined;

  // Every role serves /health and /ready on PORT, so each can be probed; the api role adds the API
  // and the Socket.IO server on the same port.
  // Every role watches what holds event delivery back, for /ready, the metrics and a warning.
  const deliveryWatch = new DeliveryWatch({ store: runtime.store, logger, metrics, everyMs: config.DELIVERY_WATCH_MS, thresholdMs: config.DELIVERY_HOLD_WARN_MS });
  deliveryWatch.start();
  // Read-your-writes waits hear checkpoint moves on the primary (a replica hears no NOTIFY).
  const progress = roles.has('api')
    ? new ProjectionProgress({
        knex: runtime.readKnex,
        store: runtime.store,
        projectors,
        databaseUrl: runtime.databaseUrl,
        ...(runner ? { announcer: runner.announcer } : {}),
        onError: (err) => logger.warn('read-your-writes wait: a check failed; retrying', { err }),
      })
    : undefined;
  await progress?.start();
  const api = progress
    ? createApi({ knex: runtime.knex, readKnex: runtime.readKnex, redis: runtime.redis, store: runtime.store, projectors, progress, queues: runtime.queues, logger, config })
    : undefined;
  const app = createApp({
    logger,
    knex: runtime.knex,
    readKnex: runtime.readKnex,
    redis: runtime.redis,
    store: runtime.store,
    projections: runner,
    // Readiness fails past 10,000 events behind; the runner counts lag up to just past that.
    maxLagEvents: 10_000,
    delivery: () => deliveryWatch.state,
    draining: () => draining,
    trustedProxyHops: config.TRUSTED_PROXY_HOPS,
    metrics,
    ...(config.MEILI_URL
      ? {
          searchPing: async () => {
            const res = await fetch(new URL('/health', config.MEILI_URL), { signal: AbortSignal.timeout(2_000) });
            if (!res.ok) throw new Error(`Meilisearch answered ${res.status}`);
          },
        }
      : {}),
    ...(api ? { api } : {}),
  });
  const server: Server = createHttpServer(app, serverLimits(config), logger);
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const realtime = api
    ? attachRealtime(server, {
        auth: api.auth,
        redis: runtime.redis,
        channelKey: channelKey(config.REDIS_KEY_PREFIX),
        knex: runtime.knex,
        locations: new LatestLocations(runtime.redis),
        logger,
        recheckMs: config.REALTIME_RECHECK_MS,
      })
    : undefined;
  if (realtime) metrics.onScrape(async () => void metrics.socketConnections.set(realtime.io.engine.clientsCount));
  runner?.exportMetrics(metrics);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info('listening', { port, roles: [...roles], eventStore: runtime.store.name });

  const shutdown = async (signal: string) => {
    if (draining) return;
    draining = true;
    logger.info('shutting down', { signal });
    const timer = setTimeout(() => {
      logger.error('shutdown timed out', { ms: config.SHUTDOWN_TIMEOUT_MS });
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    // Stop accepting, let in-flight requests finish, drop idle keep-alive sockets.
    // Each step is attempted even if an earlier one failed; any failure is logged and exits 1.
    let ok = true;
    const step = async (what: string, fn: () => Promise<void> | undefined) => {
      try {
        await fn();
      } catch (err) {
        ok = false;
        logger.error(`shutdown: ${what} failed`, { err });
      }
    };
    await step('closing the HTTP server', () => {
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      server.closeIdleConnections();
      // Socket.IO connections are not idle HTTP ones: disconnect this process's (not, through the
      // Redis adapter, every process's), or the server never closes.
      realtime?.io.local.disconnectSockets(true);
      return closed;
    });
    await step('closing Socket.IO', () => realtime?.close());
    await step('stopping the projectors', async () => {
      await runner?.stop();
      await leases?.close();
    });
    await step('stopping the jobs', async () => {
      await retention?.stop();
      await workers?.close();
    });
    await step('closing connections', async () => {
      await deliveryWatch.stop();
      await progress?.stop();
      await runtime.close();
    });
    // Spans still buffered go to the collector (bounded by the exporter's own timeout).
    await step('flushing traces', () => tracing?.shutdown());
    logger.info('stopped', { clean: ok });
    process.exit(ok ? 0 : 1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

// Nothing may die silently: an error that escaped every handler is logged before exiting 1.
process.on('uncaughtException', (err) => fail(logger, err));
process.on('unhandledRejection', (err) => fail(logger, err));

main().catch((err: unknown) => fail(logger, err));
