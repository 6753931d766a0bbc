import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { EsdbEventStore } from '../eventstore/esdb/store.js';
import { PostgresEventStore } from '../eventstore/postgres/store.js';
import type { EventStore } from '../eventstore/types.js';
import { JobQueues } from '../jobs/queues.js';
import type { Config } from '../infra/config.js';
import { createKnex, ensureDatabase } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { migrateLatest } from '../infra/migrate.js';
import { createRedis } from '../infra/redis.js';
import { type ServiceEndpoints, startServices } from '../infra/services.js';

/** Everything a process role needs: connections, the event store, and how to close them. */
export interface Runtime {
  config: Config;
  logger: Logger;
  endpoints: ServiceEndpoints;
  databaseUrl: string;
  knex: Knex;
  /** The API's queries: a read-only pool on DATABASE_READ_URL (a replica), else `knex`. */
  readKnex: Knex;
  redis: Redis;
  store: EventStore;
  /** The job queues (any role may add jobs; the worker role runs them). */
  queues: JobQueues;
  close(): Promise<void>;
}

/** The embedded cluster's database for the service (its `postgres` database stays for admin). */
const EMBEDDED_DATABASE = 'freight';

export async function bootstrap(config: Config, logger: Logger): Promise<Runtime> {
  const endpoints = await startServices(config, logger);
  try {
    const databaseUrl = config.DATABASE_URL ?? (await ensureDatabase(endpoints.databaseUrl, EMBEDDED_DATABASE));
    const knex = createKnex(databaseUrl, config.DATABASE_POOL_MAX);
    const readKnex = config.DATABASE_READ_URL
      ? createKnex(config.DATABASE_READ_URL, config.DATABASE_POOL_MAX, { readOnly: true })
      : knex;
    const applied = await migrateLatest(knex);
    if (applied.length) logger.info('migrations applied', { applied });
    const redis = createRedis(endpoints.redisUrl, config.REDIS_KEY_PREFIX);
    const onError = (err: unknown, where: string) =>
      logger.warn('event store connection problem; retrying', { where, err });
    const store: EventStore = endpoints.esdbUrl
      ? new EsdbEventStore(endpoints.esdbUrl, onError)
      : new PostgresEventStore({
          databaseUrl,
          poolMax: config.DATABASE_POOL_MAX,
          groupCommit: config.EVENTSTORE_GROUP_COMMIT,
          pollMs: config.SUBSCRIPTION_POLL_MS,
          onError,
        });
    logger.info('event store ready', { adapter: store.name });
    const queues = new JobQueues(endpoints.redisUrl, config.REDIS_KEY_PREFIX, {
      attempts: config.JOB_ATTEMPTS,
      backoffMs: config.JOB_BACKOFF_MS,
    });
    return {
      config,
      logger,
      endpoints,
      databaseUrl,
      knex,
      readKnex,
      redis,
      store,
      queues,
      close: async () => {
        await queues.close().catch((err: unknown) => logger.warn('closing the job queues failed', { err }));
        await store.close().catch((err: unknown) => logger.warn('closing the event store failed', { err }));
        redis.disconnect();
        if (readKnex !== knex) await readKnex.destroy();
        await knex.destroy();
        await endpoints.stop();
      },
    };
  } catch (err) {
    await endpoints.stop();
    throw err;
  }
}
