import type { Server } from 'node:http';
import type { Services } from '../../application/services.js';
import { type ApiDeps, createApi } from '../../http/api.js';
import type { Metrics } from '../../infra/metrics.js';
import { ProjectionProgress } from '../../projections/progress.js';
import type { ProgressAnnouncer } from '../../projections/progress.js';
import type { Projector } from '../../projections/types.js';
import { LatestLocations } from '../../read-models/tracking/latest.js';
import { channelKey } from '../../realtime/broadcaster.js';
import { attachRealtime } from '../../realtime/server.js';
import type { Runtime } from '../runtime.js';
import { searchIndexFor } from '../projectors.js';

export interface ApiRole {
  api: ApiDeps;
  /** Serves Socket.IO on the HTTP server once it listens. */
  attach(server: Server): void;
  /** Disconnects this process's sockets (not, through the Redis adapter, every process's). */
  disconnect(): void;
  stop(): Promise<void>;
}

/** The API role: the routes, their read-your-writes waits, and the Socket.IO server beside them. */
export async function startApiRole(
  runtime: Runtime,
  deps: { services: Services; projectors: readonly Projector[]; metrics: Metrics; announcer?: ProgressAnnouncer },
): Promise<ApiRole> {
  const { config, logger } = runtime;
  // Read-your-writes waits hear checkpoint moves on the primary (a replica hears no NOTIFY).
  const progress = new ProjectionProgress({
    knex: runtime.readKnex,
    store: runtime.store,
    projectors: deps.projectors,
    databaseUrl: runtime.databaseUrl,
    ...(deps.announcer ? { announcer: deps.announcer } : {}),
    onError: (err) => logger.warn('read-your-writes wait: a check failed; retrying', { err }),
  });
  await progress.start();
  const api = createApi({
    knex: runtime.knex,
    readKnex: runtime.readKnex,
    redis: runtime.redis,
    store: runtime.store,
    services: deps.services,
    search: searchIndexFor({ knex: runtime.readKnex, config }),
    projectors: deps.projectors,
    progress,
    queues: runtime.queues,
    logger,
    config,
  });
  let realtime: ReturnType<typeof attachRealtime> | undefined;
  return {
    api,
    attach(server) {
      realtime = attachRealtime(server, {
        auth: api.auth,
        redis: runtime.redis,
        channelKey: channelKey(config.REDIS_KEY_PREFIX),
        knex: runtime.knex,
        locations: new LatestLocations(runtime.redis),
        logger,
        recheckMs: config.REALTIME_RECHECK_MS,
      });
      const io = realtime.io;
      deps.metrics.onScrape(async () => void deps.metrics.socketConnections.set(io.engine.clientsCount));
    },
    disconnect() {
      realtime?.io.local.disconnectSockets(true);
    },
    async stop() {
      await realtime?.close();
      await progress.stop();
    },
  };
}
