import Router from '@koa/router';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import type { EventStore } from '../../eventstore/types.js';
import type { DeliveryState } from '../../eventstore/delivery-watch.js';
import type { Metrics } from '../../infra/metrics.js';
import type { ProjectionRunner } from '../../projections/runner.js';

export interface HealthDeps {
  knex: Knex;
  /** The query pool when it is not `knex` (a read replica): checked too. */
  readKnex?: Knex;
  redis: Redis;
  store: EventStore;
  /** Present in processes that run projectors. */
  projections?: ProjectionRunner;
  /** Projections further behind than this make the service not ready. */
  maxLagEvents: number;
  /** True once shutdown began: stop taking traffic. */
  draining: () => boolean;
  /** This process's Prometheus metrics, at /metrics. */
  metrics?: Metrics;
  /** The latest look at event delivery (DeliveryWatch): held back too long is `degraded`. */
  delivery?: () => DeliveryState;
  /** Reaches the search engine (Meilisearch); absent when search is Postgres itself. */
  searchPing?: () => Promise<unknown>;
}

async function check(
  fn: () => Promise<unknown>,
  timeoutMs = 2_000,
): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs))),
    ]);
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const PUBLIC_ERROR = (name: string) =>
  `failing: see the service's log, npm run projections:status, and GET /admin/projections/${name}/parked`;

/** `/health`: the process is alive. `/ready`: its dependencies answer and projections keep up. */
export function healthRouter(deps: HealthDeps): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const replica = deps.readKnex && deps.readKnex !== deps.knex ? deps.readKnex : undefined;
    const [postgres, readReplica, redis, eventStore, search] = await Promise.all([
      check(() => deps.knex.raw('select 1')),
      replica ? check(() => replica.raw('select 1')) : Promise.resolve(undefined),
      check(() => deps.redis.ping()),
      check(() => deps.store.headPosition()),
      deps.searchPing ? check(deps.searchPing) : Promise.resolve(undefined),
    ]);
    const projections = deps.projections ? await deps.projections.status().catch(() => null) : undefined;
    const lagging = projections?.filter((p) => p.eventsBehind > deps.maxLagEvents || p.state === 'failed') ?? [];
    const ready =
      !deps.draining() &&
      postgres.ok &&
      (readReplica?.ok ?? true) &&
      redis.ok &&
      eventStore.ok &&
      (search?.ok ?? true) &&
      projections !== null &&
      lagging.length === 0;
    // Held-back delivery leaves the service serving (reads answer, commands append): degraded, not
    // unready, with the reason; taking it out of the load balancer would not release the hold.
    const delivery = deps.delivery?.();
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: !ready ? (deps.draining() ? 'draining' : 'not ready') : delivery?.stalled ? 'degraded' : 'ready',
      ...(ready && delivery?.stalled ? { reason: delivery.reason } : {}),
      checks: {
        postgres,
        ...(readReplica ? { readReplica } : {}),
        redis,
        eventStore: { ...eventStore, adapter: deps.store.name },
        ...(search ? { search: { ...search, engine: 'meilisearch' } } : {}),
        ...(delivery
          ? {
              delivery: {
                ok: !delivery.stalled,
                heldEvents: delivery.heldEvents,
                heldSeconds: Math.round(delivery.heldSeconds * 10) / 10,
                // /ready is unauthenticated: which session, not what it runs (the warning log has its query).
                ...(delivery.holder
                  ? {
                      holder: {
                        pid: delivery.holder.pid,
                        applicationName: delivery.holder.applicationName,
                        state: delivery.holder.state,
                        openSeconds: Math.round(delivery.holder.openSeconds),
                      },
                    }
                  : {}),
                checkedAt: delivery.checkedAt.toISOString(),
              },
            }
          : {}),
      },
      // Unauthenticated too: that a projector fails, not why (its error can quote an event's data and
      // name tables; the log, `npm run projections:status` and the admin's parked list have it).
      projections:
        projections?.map((p) => ({ ...p, lastError: p.lastError === null ? null : PUBLIC_ERROR(p.name) })) ??
        projections,
    };
  });
  const metrics = deps.metrics;
  if (metrics) {
    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.text();
    });
  }
  return router;
}
