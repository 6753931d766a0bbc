import type { Server } from 'node:http';
import { createApp } from '../http/app.js';
import { createHttpServer } from '../http/server.js';
import { type Config, otlpHeaders, otlpTracesUrl, serverLimits } from '../infra/config.js';
import type { Logger } from '../infra/logger.js';
import { Metrics } from '../infra/metrics.js';
import { startTracing } from '../infra/tracing.js';
import { DeliveryWatch } from '../eventstore/delivery-watch.js';
import { instrumentStore } from '../eventstore/instrumented.js';
import { queueCounts } from '../jobs/workers.js';
import { projectorsFor } from './projectors.js';
import { type ApiRole, startApiRole } from './roles/api.js';
import { type ProjectorRole, startProjectorRole } from './roles/projector.js';
import { startWorkerRole, type WorkerRole } from './roles/worker.js';
import { bootstrap } from './runtime.js';
import { servicesFor } from './services.js';

export const ROLES = ['api', 'projector', 'worker'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Runs the service's roles in this process (all three for `npm start`). Every role serves /health
 * and /ready on PORT, so each can be probed; the api role adds the API and Socket.IO on that port.
 * One AbortController stops it all: SIGTERM or SIGINT aborts it, and the process drains in order
 * (stop taking requests, stop the projectors, the jobs, then the connections) and exits.
 */
export async function runService(roles: ReadonlySet<Role>, config: Config, logger: Logger): Promise<AbortController> {
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
  if (tracing)
    logger.info('tracing on', { otlpUrl: new URL(otlpUrl!).origin, sampleRatio: config.OTEL_TRACES_SAMPLER_ARG });
  const runtime = await bootstrap(config, logger);
  // Every append of this process (commands, reactors, jobs) is measured.
  const metrics = new Metrics();
  runtime.store = instrumentStore(runtime.store, metrics);
  const services = servicesFor(runtime);
  const projectors = projectorsFor({ ...runtime, services, metrics });
  metrics.onScrape(async () => {
    for (const [queue, byState] of Object.entries(await queueCounts(runtime.queues))) {
      for (const [state, n] of Object.entries(byState)) metrics.queueDepth.set({ queue, state }, n);
    }
  });

  const projector: ProjectorRole | undefined = roles.has('projector')
    ? startProjectorRole(runtime, projectors)
    : undefined;
  const worker: WorkerRole | undefined = roles.has('worker')
    ? await startWorkerRole(runtime, services, metrics)
    : undefined;
  // Every role watches what holds event delivery back, for /ready, the metrics and a warning.
  const deliveryWatch = new DeliveryWatch({
    store: runtime.store,
    logger,
    metrics,
    everyMs: config.DELIVERY_WATCH_MS,
    thresholdMs: config.DELIVERY_HOLD_WARN_MS,
  });
  deliveryWatch.start();
  const api: ApiRole | undefined = roles.has('api')
    ? await startApiRole(runtime, {
        services,
        projectors,
        metrics,
        ...(projector ? { announcer: projector.runner.announcer } : {}),
      })
    : undefined;

  const shutdown = new AbortController();
  const app = createApp({
    logger,
    knex: runtime.knex,
    readKnex: runtime.readKnex,
    redis: runtime.redis,
    store: runtime.store,
    projections: projector?.runner,
    // Readiness fails past 10,000 events behind; the runner counts lag up to just past that.
    maxLagEvents: 10_000,
    delivery: () => deliveryWatch.state,
    draining: () => shutdown.signal.aborted,
    trustedProxyHops: config.TRUSTED_PROXY_HOPS,
    metrics,
    ...(config.MEILI_URL ? { searchPing: meiliPing(config.MEILI_URL) } : {}),
    ...(api ? { api: api.api } : {}),
  });
  const server: Server = createHttpServer(app, serverLimits(config), logger);
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  api?.attach(server);
  projector?.runner.exportMetrics(metrics);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info('listening', { port, roles: [...roles], eventStore: runtime.store.name });

  shutdown.signal.addEventListener('abort', () => {
    logger.info('shutting down', { signal: String(shutdown.signal.reason) });
    const timer = setTimeout(() => {
      logger.error('shutdown timed out', { ms: config.SHUTDOWN_TIMEOUT_MS });
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    void drain().then((clean) => {
      logger.info('stopped', { clean });
      process.exit(clean ? 0 : 1);
    });
  });

  // Each step is attempted even if an earlier one failed; any failure is logged and exits 1.
  async function drain(): Promise<boolean> {
    let ok = true;
    const step = async (what: string, fn: () => Promise<void> | undefined) => {
      try {
        await fn();
      } catch (err) {
        ok = false;
        logger.error(`shutdown: ${what} failed`, { err });
      }
    };
    // Stop accepting, let in-flight requests finish, drop idle keep-alive sockets. Socket.IO
    // connections are not idle HTTP ones: this process's are disconnected, or the server never closes.
    await step('closing the HTTP server', () => {
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      server.closeIdleConnections();
      api?.disconnect();
      return closed;
    });
    await step('closing the API', () => api?.stop());
    await step('stopping the projectors', () => projector?.stop());
    await step('stopping the jobs', () => worker?.stop());
    await step('closing connections', async () => {
      await deliveryWatch.stop();
      await runtime.close();
    });
    // Spans still buffered go to the collector (bounded by the exporter's own timeout).
    await step('flushing traces', () => tracing?.shutdown());
    return ok;
  }

  return shutdown;
}

function meiliPing(url: string) {
  return async () => {
    const res = await fetch(new URL('/health', url), { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`Meilisearch answered ${res.status}`);
  };
}
