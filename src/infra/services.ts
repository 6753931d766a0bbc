import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.js';
import { DEFAULT_EMBEDDED_PG_PORT, startEmbeddedPostgres } from './embedded-postgres.js';
import type { Logger } from './logger.js';
import { spawnRedis } from './redis-server.js';

/** Where the backing servers are, and how to stop the ones this process started. */
export interface ServiceEndpoints {
  databaseUrl: string;
  redisUrl: string;
  esdbUrl?: string;
  stop(): Promise<void>;
}

/**
 * Uses DATABASE_URL / REDIS_URL when set; otherwise starts an embedded Postgres and a
 * redis-server with their data under DATA_DIR. `ephemeral` (tests) gives each run its own
 * throw-away cluster and data folder.
 */
export async function startServices(
  config: Pick<Config, 'DATABASE_URL' | 'REDIS_URL' | 'ESDB_URL' | 'DATA_DIR' | 'EMBEDDED_PG_PORT'>,
  logger: Logger,
  opts: { ephemeral?: boolean } = {},
): Promise<ServiceEndpoints> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => logger.warn('service stop failed', { err }));
  };
  try {
    const runDir = opts.ephemeral
      ? path.join(config.DATA_DIR, 'tmp', `run-${process.pid}-${Date.now()}`)
      : config.DATA_DIR;
    if (opts.ephemeral) stops.push(() => rm(runDir, { recursive: true, force: true }));
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({
        dir: path.join(runDir, 'postgres'),
        port: opts.ephemeral ? undefined : config.EMBEDDED_PG_PORT,
        preferredPort: opts.ephemeral ? undefined : DEFAULT_EMBEDDED_PG_PORT,
        persistent: !opts.ephemeral,
        logger,
      });
      stops.push(pg.stop);
      databaseUrl = pg.url;
    }
    let redisUrl = config.REDIS_URL;
    if (!redisUrl) {
      const redis = await spawnRedis({ dir: path.join(runDir, 'redis'), persistent: !opts.ephemeral, logger });
      stops.push(redis.stop);
      redisUrl = redis.url;
    }
    return { databaseUrl, redisUrl, esdbUrl: config.ESDB_URL, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
