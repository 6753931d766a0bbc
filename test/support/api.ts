import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import request from 'supertest';
import { ActivePrincipals } from '../../src/auth/principals.js';
import { mintToken, type Principal } from '../../src/auth/tokens.js';
import type { Role } from '../../src/domain/shared/actor.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import type { EventStore } from '../../src/eventstore/types.js';
import { ProjectionProgress } from '../../src/projections/progress.js';
import { createApi } from '../../src/http/api.js';
import { createApp } from '../../src/http/app.js';
import { createHttpServer } from '../../src/http/server.js';
import type { Route } from '../../src/http/route.js';
import { DEV_JWT_SECRET, loadConfig, locationPolicy, serverLimits } from '../../src/infra/config.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { createRedis, type Redis } from '../../src/infra/redis.js';
import { allProjectors, searchIndexFor } from '../../src/process/projectors.js';
import { servicesFor } from '../../src/process/services.js';
import { LatestLocations } from '../../src/read-models/tracking/latest.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import type { Projector } from '../../src/projections/types.js';
import { channelKey, RedisBroadcaster } from '../../src/realtime/broadcaster.js';
import { attachRealtime } from '../../src/realtime/server.js';
import { FmcsaClient } from '../../src/integrations/fmcsa/client.js';
import { StripeProvider } from '../../src/integrations/stripe/provider.js';
import { instrumentStore } from '../../src/eventstore/instrumented.js';
import { Metrics } from '../../src/infra/metrics.js';
import type { Notification } from '../../src/jobs/notifications/messages.js';
import type { NotificationTransport } from '../../src/jobs/notifications/transport.js';
import { JobQueues, QUEUES } from '../../src/jobs/queues.js';
import { startWorkers } from '../../src/jobs/workers.js';
import { freshDatabase, testLogger, testServices } from './services.js';

/** The real app on its own database and Redis prefix, with the projectors running. */
export interface ApiHarness {
  app: Koa;
  http: () => ReturnType<typeof request>;
  knex: Knex;
  /** The API's query pool (`knex` unless `readReplica`). */
  readKnex: Knex;
  redis: Redis;
  store: EventStore;
  runner: ProjectionRunner;
  projectors: Projector[];
  routes: Route[];
  config: ReturnType<typeof loadConfig>;
  platformOrgId: string;
  token(p: Principal, expiresIn?: string | number): Promise<string>;
  /** A platform admin's bearer header. */
  admin: string;
  /** Registers an organisation and one user through the API; answers the user's bearer header. */
  member(
    kind: 'shipper' | 'carrier' | 'broker',
    roles: Role[],
  ): Promise<{ orgId: string; userId: string; auth: string }>;
  /** With `listen`: where the app (and Socket.IO) listens. */
  baseUrl?: string;
  keyPrefix: string;
  databaseUrl: string;
  queues: JobQueues;
  metrics: Metrics;
  /** What the notification jobs sent. */
  sent: { message: Notification; key: string }[];
  /** Waits until every projector has caught up and the job queues this harness works are empty. */
  settle(): Promise<void>;
  /**
   * Every event committed so far (their count and highest sequence), whether or not subscribers may
   * read them yet: what a refused request must leave as it was. The head position a reader sees can
   * move late, when an earlier commit becomes readable (an older append still open holds readers back).
   */
  committed(): Promise<string>;
  /** The types and streams of the newest committed events, to say what a request appended. */
  newest(n: number): Promise<string[]>;
  close(): Promise<void>;
}

/** Records what would be sent: the transport is the boundary where email and SMS leave the platform. */
export class RecordingTransport implements NotificationTransport {
  readonly name = 'recording';
  readonly sent: { message: Notification; key: string }[] = [];
  async send(message: Notification, key: string) {
    this.sent.push({ message, key });
  }
}

export interface HarnessOptions {
  listen?: boolean;
  /** Run the verification worker against this (fake) FMCSA server. */
  fmcsaUrl?: string;
  /** Run the payments worker against this (fake) Stripe server. */
  stripe?: { host: string; port: number; protocol: 'http' };
  /** Send the API's queries through a separate read-only pool, as to a replica (`readKnex`). */
  readReplica?: boolean;
  /** Projectors run beside the service's own (and reachable through the admin routes). */
  extraProjectors?: Projector[];
}

export async function apiHarness(
  label: string,
  env: Record<string, string> = {},
  opts: HarnessOptions = {},
): Promise<ApiHarness> {
  const url = await freshDatabase(label);
  const knex = createKnex(url, 8);
  const keyPrefix = `t:${randomUUID()}:`;
  const redis = createRedis((await testServices()).redisUrl, keyPrefix);
  const metrics = new Metrics();
  // Measured (and traced, when a suite turns tracing on) as the service's store is.
  const store = instrumentStore(new PostgresEventStore({ databaseUrl: url, pollMs: 100 }), metrics);
  const platformOrgId = randomUUID();
  // Suites drive many requests from one address and user: limits are off unless a suite sets them.
  const unlimited = {
    RATE_LIMIT_PER_IP: '0',
    RATE_LIMIT_PER_USER: '0',
    RATE_LIMIT_GPS: '0',
    RATE_LIMIT_PAYMENTS: '0',
    RATE_LIMIT_LOADBOARD: '0',
  };
  const config = loadConfig({
    NODE_ENV: 'test',
    PLATFORM_ORG_ID: platformOrgId,
    MIN_POSITION_WAIT_MS: '3000',
    ...unlimited,
    ...env,
  });
  const principals = new ActivePrincipals({ redis, knex, platformOrgId });
  const search = searchIndexFor({ knex, config });
  // The services as the service composes them: the same lookups, on this harness's connections.
  const services = servicesFor({ store, knex, redis, config });
  const locations = new LatestLocations(redis);
  const broadcaster = new RedisBroadcaster(redis, channelKey(keyPrefix));
  const notify = { knex, broadcaster, locationIntervalMs: config.REALTIME_LOCATION_INTERVAL_MS };
  const queues = new JobQueues((await testServices()).redisUrl, keyPrefix, {
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
  });
  const projectors = [
    ...allProjectors({
      principals,
      search,
      store,
      services,
      locations,
      locationPolicy: locationPolicy(config),
      notify,
      queues,
    }),
    ...(opts.extraProjectors ?? []),
  ];
  const runner = new ProjectionRunner({
    knex,
    store,
    projectors,
    logger: testLogger,
    databaseUrl: url,
    batchSize: 200,
    stoppedPollMs: 100,
    ...(config.PROJECTION_POISON_POLICY ? { poisonPolicy: config.PROJECTION_POISON_POLICY } : {}),
  });
  runner.start();
  runner.exportMetrics(metrics);
  const transport = new RecordingTransport();
  const fmcsa = opts.fmcsaUrl
    ? new FmcsaClient({
        baseUrl: opts.fmcsaUrl,
        webKey: config.FMCSA_WEB_KEY ?? 'test-web-key',
        timeoutMs: config.FMCSA_TIMEOUT_MS,
        attempts: config.FMCSA_ATTEMPTS,
        retryInitialDelayMs: 10,
        breakerFailures: config.FMCSA_BREAKER_FAILURES,
        breakerOpenMs: config.FMCSA_BREAKER_OPEN_MS,
        cache: { redis, seconds: config.FMCSA_CACHE_SECONDS },
      })
    : undefined;
  const stripe = opts.stripe
    ? new StripeProvider({
        secretKey: config.STRIPE_SECRET_KEY ?? 'sk_test_harness',
        ...opts.stripe,
        timeoutMs: config.STRIPE_TIMEOUT_MS,
        networkRetries: config.STRIPE_NETWORK_RETRIES,
        breakerFailures: config.STRIPE_BREAKER_FAILURES,
        breakerOpenMs: config.STRIPE_BREAKER_OPEN_MS,
      })
    : undefined;
  const workers = await startWorkers({
    queues,
    store,
    services,
    knex,
    logger: testLogger,
    metrics,
    ...(fmcsa ? { fmcsa } : {}),
    ...(stripe
      ? {
          payments: {
            provider: stripe,
            chargeAttempts: config.PAYMENT_CHARGE_ATTEMPTS,
            payoutAttempts: config.PAYMENT_PAYOUT_ATTEMPTS,
            retryMs: config.PAYMENT_RETRY_MS,
          },
        }
      : {}),
    fmcsaPerSecond: config.FMCSA_PER_SECOND,
    insuranceTrustMs: config.FMCSA_INSURANCE_TRUST_HOURS * 3_600_000,
    transport,
    platformOrgId,
    notificationMaxAgeMs: config.NOTIFICATION_MAX_AGE_HOURS * 3_600_000,
  });
  const worked = [
    QUEUES.performance,
    QUEUES.notifications,
    QUEUES.recheck,
    QUEUES.expiry,
    ...(fmcsa ? [QUEUES.verification] : []),
    ...(stripe ? [QUEUES.payments] : []),
  ];
  // The read models' first generations exist before the first request.
  if (!(await runner.idle(15_000))) throw new Error('projections did not start');
  // A read-only query pool stands in for a replica: a write routed to it fails.
  const readKnex = opts.readReplica ? createKnex(url, 4, { readOnly: true }) : knex;
  const progress = new ProjectionProgress({
    knex: readKnex,
    store,
    projectors,
    databaseUrl: url,
    announcer: runner.announcer,
  });
  await progress.start();
  const api = createApi({
    knex,
    readKnex,
    redis,
    store,
    services,
    projectors,
    progress,
    principals,
    search,
    config,
    queues,
    logger: testLogger,
  });
  const app = createApp({
    logger: testLogger,
    knex,
    readKnex,
    redis,
    store,
    projections: runner,
    maxLagEvents: 10_000,
    draining: () => false,
    api,
    metrics,
  });
  const token = (p: Principal, expiresIn: string | number = '1h') =>
    mintToken({ secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }, p, expiresIn);
  const admin = `Bearer ${await token({ userId: randomUUID(), orgId: platformOrgId, roles: ['admin'] })}`;
  const http = () => request(app.callback());
  // A real port with Socket.IO on it, for the realtime tests.
  let server: Server | undefined;
  let realtime: ReturnType<typeof attachRealtime> | undefined;
  if (opts.listen) {
    const s = createHttpServer(app, serverLimits(config), testLogger);
    server = await new Promise<Server>((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
    realtime = attachRealtime(server, {
      auth: api.auth,
      redis,
      channelKey: channelKey(keyPrefix),
      knex,
      locations,
      logger: testLogger,
      recheckMs: config.REALTIME_RECHECK_MS,
    });
  }
  // Jobs append events that projectors read, and projectors queue jobs: settled when a pass finds both idle.
  const settle = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!(await runner.idle(15_000))) throw new Error('projections did not catch up');
      // Payouts wait (delayed) until due: the payments queue is idle when nothing is running or ready.
      const counts = await Promise.all(
        worked.map((q) =>
          queues
            .queue(q)
            .getJobCounts('waiting', 'prioritized', 'active', ...(q === QUEUES.payments ? [] : (['delayed'] as const))),
        ),
      );
      const busy = counts.some((c) => Object.values(c).some((n) => n > 0));
      if (!busy && (await runner.idle(1_000))) {
        const again = await Promise.all(
          worked.map((q) =>
            queues
              .queue(q)
              .getJobCounts(
                'waiting',
                'prioritized',
                'active',
                ...(q === QUEUES.payments ? [] : (['delayed'] as const)),
              ),
          ),
        );
        if (again.every((c) => Object.values(c).every((n) => n === 0))) return;
      }
      if (Date.now() > deadline) throw new Error(`jobs did not finish: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    app,
    http,
    knex,
    readKnex,
    redis,
    store,
    runner,
    projectors,
    routes: api.routes,
    config,
    platformOrgId,
    token,
    admin,
    settle,
    async committed() {
      const { rows } = await knex.raw<{ rows: { n: string; s: string }[] }>(
        'select count(*)::text as n, coalesce(max(seq), 0)::text as s from es_events',
      );
      return `${rows[0]!.n} events, up to seq ${rows[0]!.s}`;
    },
    async newest(n) {
      const { rows } = await knex.raw<{ rows: { type: string; stream_id: string }[] }>(
        'select type, stream_id from es_events order by seq desc limit ?',
        [n],
      );
      return rows.map((r) => `${r.type}@${r.stream_id}`);
    },
    async member(kind, roles) {
      const org = await http()
        .post('/orgs')
        .set('Authorization', admin)
        .send({ name: `${kind} ${randomUUID().slice(0, 6)}`, kind })
        .expect(201);
      const user = await http()
        .post(`/orgs/${org.body.orgId}/users`)
        .set('Authorization', admin)
        .send({ email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Pat Doe', roles })
        .expect(201);
      await settle();
      const t = await token({ userId: user.body.userId, orgId: org.body.orgId, roles });
      return { orgId: org.body.orgId as string, userId: user.body.userId as string, auth: `Bearer ${t}` };
    },
    baseUrl: server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}` : undefined,
    keyPrefix,
    databaseUrl: url,
    queues,
    metrics,
    sent: transport.sent,
    async close() {
      await realtime?.close();
      await progress.stop();
      await runner.stop();
      await workers.close();
      await queues.close();
      await store.close();
      redis.disconnect();
      if (readKnex !== knex) await readKnex.destroy();
      await knex.destroy();
    },
  };
}
