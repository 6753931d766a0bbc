import type { Services } from '../../application/services.js';
import type { Metrics } from '../../infra/metrics.js';
import { FmcsaClient } from '../../integrations/fmcsa/client.js';
import { StripeProvider } from '../../integrations/stripe/provider.js';
import { LogTransport } from '../../jobs/notifications/transport.js';
import { startTrackingRetention } from '../../jobs/retention.js';
import { startWorkers } from '../../jobs/workers.js';
import type { Runtime } from '../runtime.js';

export interface WorkerRole {
  stop(): Promise<void>;
}

/** The worker role: the job queues (FMCSA checks, re-checks, scores, expiry, notifications, payments) and retention. */
export async function startWorkerRole(runtime: Runtime, services: Services, metrics: Metrics): Promise<WorkerRole> {
  const { config, logger } = runtime;
  const retention = startTrackingRetention(
    { store: runtime.store, knex: runtime.knex, logger },
    config.TRACKING_RETENTION_DAYS,
  );
  const fmcsa = config.FMCSA_WEB_KEY
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
  const stripe = config.STRIPE_SECRET_KEY
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
  const workers = await startWorkers({
    queues: runtime.queues,
    store: runtime.store,
    services,
    knex: runtime.knex,
    logger,
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
    transport: new LogTransport(logger),
    platformOrgId: config.PLATFORM_ORG_ID,
    notificationMaxAgeMs: config.NOTIFICATION_MAX_AGE_HOURS * 3_600_000,
    ...(config.CARRIER_RECHECK_CRON !== 'off' ? { recheckPattern: config.CARRIER_RECHECK_CRON } : {}),
    expirySweepMs: config.LOAD_EXPIRY_SWEEP_SECONDS * 1_000,
  });
  return {
    async stop() {
      await retention.stop();
      await workers.close();
    },
  };
}
