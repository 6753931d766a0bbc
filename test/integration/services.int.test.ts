import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MissingRedisError } from '../../src/infra/redis-server.js';
import { startServices } from '../../src/infra/services.js';
import { testLogger } from '../support/services.js';

describe('Starting the backing services on a fresh machine', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'freight-services-'));
    // Run as root, Postgres runs as the `postgres` user, who must be able to reach the folder.
    await chmod(dataDir, 0o755);
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts an embedded Postgres and a redis-server when no URLs are given, and stops them', async function () {
    this.timeout(120_000);
    const services = await startServices({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: 54329 }, testLogger, { ephemeral: true });
    const client = new pg.Client({ connectionString: services.databaseUrl });
    const redis = new Redis(services.redisUrl);
    try {
      await client.connect();
      const { rows } = await client.query<{ v: string }>("select current_setting('server_version') as v");
      expect(rows[0]!.v).to.match(/^\d+/);
      expect(await redis.ping()).to.equal('PONG');
    } finally {
      await client.end();
      redis.disconnect();
      await services.stop();
    }
    const after = new pg.Client({ connectionString: services.databaseUrl, connectionTimeoutMillis: 2_000 });
    let refused = false;
    await after.connect().catch(() => (refused = true));
    expect(refused).to.equal(true);
  });

  it('stops with a one-line message naming how to get Redis when none is available', async () => {
    const saved = process.env.PATH;
    process.env.PATH = dataDir;
    try {
      let err: unknown;
      await startServices({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: 54329, DATABASE_URL: 'postgres://unused@127.0.0.1:1/x' }, testLogger, {
        ephemeral: true,
      }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(MissingRedisError);
      expect((err as Error).message).to.match(/REDIS_URL.*redis-server/);
      expect((err as Error).message).to.not.include('\n');
    } finally {
      process.env.PATH = saved;
    }
  });
});
