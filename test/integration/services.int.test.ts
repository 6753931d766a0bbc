import { lstat, mkdtemp, readlink, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres.js';
import { createLogger } from '../../src/infra/logger.js';
import { freePort } from '../../src/infra/ports.js';
import { MissingRedisError } from '../../src/infra/redis-server.js';
import { startServices } from '../../src/infra/services.js';
import { ServiceStartError } from '../../src/infra/startup-error.js';
import { spawnCli } from '../support/process.js';
import { testLogger } from '../support/services.js';

const asRoot = process.getuid?.() === 0;

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

async function refuses(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  return client.connect().then(
    async () => {
      await client.end();
      return false;
    },
    () => true,
  );
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: Error) => err,
  );
}

/** A port another program holds (a listening socket of the test's), until `close`. */
async function heldPort(): Promise<{ port: number; close: () => void }> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  return { port: (holder.address() as net.AddressInfo).port, close: () => holder.close() };
}

/** A logger whose lines the test can read. */
function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const logger = createLogger({ LOG_LEVEL: 'info', LOG_FORMAT: 'json', NODE_ENV: 'test' });
  for (const level of ['info', 'warn', 'error'] as const) {
    logger[level] = ((message: string, fields: Record<string, unknown> = {}) => {
      lines.push({ message, fields });
    }) as never;
  }
  return { logger, lines };
}

describe('Starting the backing services on a fresh machine', function () {
  this.timeout(180_000);
  let home: string;
  let dataDir: string;
  beforeEach(async () => {
    // mkdtemp gives a private (0700) folder, like a root home or many CI work folders: run as
    // root, Postgres runs as the `postgres` account, which cannot enter it.
    home = await mkdtemp(path.join(os.tmpdir(), 'freight-services-'));
    expect((await stat(home)).mode & 0o777).to.equal(0o700);
    dataDir = path.join(home, 'checkout', '.data');
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('starts an embedded Postgres and a redis-server under a private folder when no URLs are given, and stops them', async () => {
    const services = await startServices({ DATA_DIR: dataDir }, testLogger, { ephemeral: true });
    const redis = new Redis(services.redisUrl);
    try {
      const rows = await query<{ user: string; encoding: string }>(
        services.databaseUrl,
        "select current_user as user, current_setting('server_encoding') as encoding",
      );
      expect(rows[0]).to.deep.equal({ user: 'postgres', encoding: 'UTF8' });
      expect(await redis.ping()).to.equal('PONG');
    } finally {
      redis.disconnect();
      await services.stop();
    }
    expect(await refuses(services.databaseUrl)).to.equal(true);
  });

  it('keeps a persistent cluster reachable from DATA_DIR across restarts, placed where the server account can reach it', async () => {
    const dir = path.join(dataDir, 'postgres');
    const first = await startEmbeddedPostgres({ dir, persistent: true, logger: testLogger });
    try {
      expect(first.started).to.equal(true);
      await query(first.url, "create table kept (v text); insert into kept values ('still here')");
      if (asRoot) {
        // The checkout is private, so the data lives outside it, owned by postgres, linked from DATA_DIR.
        expect((await lstat(dir)).isSymbolicLink()).to.equal(true);
        expect(await readlink(dir)).to.equal(first.dataDir);
        const owner = await stat(first.dataDir);
        expect(owner.uid).to.not.equal(0);
        expect(owner.mode & 0o777).to.equal(0o700);
      } else {
        expect(first.dataDir).to.equal(dir);
      }
    } finally {
      await first.stop();
    }
    expect(await refuses(first.url)).to.equal(true);

    const again = await startEmbeddedPostgres({ dir, persistent: true, logger: testLogger });
    try {
      expect(again.dataDir).to.equal(first.dataDir);
      expect(await query<{ v: string }>(again.url, 'select v from kept')).to.deep.equal([{ v: 'still here' }]);
    } finally {
      await again.stop();
      await rm(again.dataDir, { recursive: true, force: true });
      await rm(`${again.dataDir}.link`, { force: true });
    }
  });

  it('reuses its own running cluster, and gives a second checkout a free port when the usual one is taken, saying so', async () => {
    // Our stand-in for "the usual port": one this test holds open, as another checkout's cluster would.
    const holder = await heldPort();
    const usual = holder.port;
    const mine = path.join(home, 'mine', '.data', 'postgres');
    const other = path.join(home, 'other', '.data', 'postgres');
    const first = await startEmbeddedPostgres({
      dir: mine,
      persistent: true,
      preferredPort: await freePort(),
      logger: testLogger,
    });
    const started: { stop(): Promise<void>; dataDir: string }[] = [first];
    try {
      const reuse = recordingLogger();
      const second = await startEmbeddedPostgres({
        dir: mine,
        persistent: true,
        preferredPort: usual,
        logger: reuse.logger,
      });
      expect(second.started).to.equal(false);
      expect(second.port).to.equal(first.port);
      expect(reuse.lines.map((l) => l.message)).to.include(
        'embedded postgres already running for this data folder; reusing it',
      );
      await second.stop(); // not its to stop
      expect(await query(first.url, 'select 1')).to.have.length(1);

      const elsewhere = recordingLogger();
      const third = await startEmbeddedPostgres({
        dir: other,
        persistent: true,
        preferredPort: usual,
        logger: elsewhere.logger,
      });
      started.push(third);
      expect(third.started).to.equal(true);
      expect(third.port).to.not.equal(usual);
      expect(third.port).to.not.equal(first.port);
      const said = elsewhere.lines.find((l) => /usual port is taken/.test(l.message));
      expect(said?.fields).to.deep.include({ taken: usual, port: third.port });
      expect(await query(third.url, 'select 1')).to.have.length(1);
    } finally {
      holder.close();
      for (const s of started) {
        await s.stop();
        await rm(s.dataDir, { recursive: true, force: true });
        await rm(`${s.dataDir}.link`, { force: true });
      }
    }
  });

  it('refuses a port asked for by EMBEDDED_PG_PORT that another program holds, in one line', async () => {
    const holder = await heldPort();
    const { port } = holder;
    try {
      const err = await rejection(
        startEmbeddedPostgres({ dir: path.join(dataDir, 'postgres'), persistent: false, port, logger: testLogger }),
      );
      expect(err).to.be.instanceOf(ServiceStartError);
      expect(err.message).to.equal(
        `Port ${port} (EMBEDDED_PG_PORT) is taken by another program: choose another, or unset EMBEDDED_PG_PORT to let the service pick a free port.`,
      );
    } finally {
      holder.close();
    }
  });

  it('says in one line why a cluster that cannot start did not, and what it was', async () => {
    const dir = path.join(dataDir, 'postgres');
    const made = await startEmbeddedPostgres({ dir, persistent: true, logger: testLogger });
    await made.stop();
    // Now a data folder from a Postgres this one cannot read.
    await writeFile(path.join(made.dataDir, 'PG_VERSION'), '99\n');
    try {
      const err = await rejection(startEmbeddedPostgres({ dir, persistent: true, logger: testLogger }));
      expect(err).to.be.instanceOf(ServiceStartError);
      expect(err.message, err.message).to.not.include('\n');
      expect(err.message, err.message).to.match(
        /^The embedded Postgres stopped while starting \(exit 1\): FATAL: .*incompatible with server/,
      );
    } finally {
      await rm(made.dataDir, { recursive: true, force: true });
      await rm(`${made.dataDir}.link`, { force: true });
    }
  });

  it('says in one line that DATA_DIR cannot be written, and what to do', async () => {
    const blocked = path.join(home, 'not-a-folder');
    await writeFile(blocked, 'a file where DATA_DIR should be');
    const err = await rejection(startServices({ DATA_DIR: blocked }, testLogger, { ephemeral: false }));
    expect(err).to.be.instanceOf(ServiceStartError);
    expect(err.message).to.match(
      /^Cannot write .* \(a file stands where a folder should be\): set DATA_DIR to a writable folder/,
    );
    expect(err.message).to.not.include('\n');
  });

  it('stops with a one-line message naming how to get Redis when none is available', async () => {
    const saved = process.env.PATH;
    process.env.PATH = home;
    try {
      const err = await rejection(
        startServices({ DATA_DIR: dataDir, DATABASE_URL: 'postgres://unused@127.0.0.1:1/x' }, testLogger, {
          ephemeral: true,
        }),
      );
      expect(err).to.be.instanceOf(MissingRedisError);
      expect(err.message).to.match(/REDIS_URL.*redis-server/);
      expect(err.message).to.not.include('\n');
    } finally {
      process.env.PATH = saved;
    }
  });

  it('the service prints that one line and exits 1, with no stack, when a bundled server cannot start', async () => {
    const blocked = path.join(home, 'not-a-folder');
    await writeFile(blocked, 'a file where DATA_DIR should be');
    const serve = spawnCli('serve', [], { DATA_DIR: blocked, DATABASE_URL: '', REDIS_URL: '', PORT: '0' });
    const { code } = await serve.exited;
    expect(code).to.equal(1);
    const lines = serve.output().trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^Cannot write .*not-a-folder.*set DATA_DIR to a writable folder/);
    expect(serve.output()).to.not.match(/\n\s+at /);
  });
});
