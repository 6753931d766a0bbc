import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Logger } from './logger.js';
import { freePort } from './ports.js';
import { lastLine, makeFolder, ServiceStartError } from './startup-error.js';

export class MissingRedisError extends ServiceStartError {
  constructor() {
    super(
      'No Redis: set REDIS_URL, or install redis-server on the PATH (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).',
    );
    this.name = 'MissingRedisError';
  }
}

export interface SpawnedRedis {
  url: string;
  stop(): Promise<void>;
}

export function redisServerOnPath(): string | undefined {
  const found = spawnSync('/bin/sh', ['-c', 'command -v redis-server'], { encoding: 'utf8', env: process.env });
  const bin = found.stdout.trim();
  return found.status === 0 && bin ? bin : undefined;
}

/** Spawns `redis-server` on a free port, its data under `dir`, and stops it with this process. */
export async function spawnRedis(opts: { dir: string; persistent: boolean; logger: Logger }): Promise<SpawnedRedis> {
  const bin = redisServerOnPath();
  if (!bin) throw new MissingRedisError();
  const dir = path.resolve(opts.dir);
  await makeFolder(dir, 'the Redis data');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--appendonly', opts.persistent ? 'yes' : 'no');
  // Its own process group, like the embedded Postgres: a Ctrl-C reaches our process, which drains
  // and then stops Redis, instead of Redis going first.
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  await new Promise<void>((resolve, reject) => {
    let output = '';
    const failed = (why: string) =>
      new ServiceStartError(
        `redis-server (${bin}) ${why}: ${lastLine(output) || 'no output'}; set REDIS_URL to a Redis of your own.`,
      );
    // Not a test's timing: a server that never says it is ready must not hang the start for ever.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(failed('did not become ready in 60 s'));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.removeAllListeners('exit');
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(failed(`could not be run (${err.message})`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(failed(`stopped while starting (exit ${code})`));
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  opts.logger.info('redis-server started', { port, dir });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        process.off('exit', killOnExit);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
