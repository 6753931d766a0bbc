import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './logger.js';
import { freePort } from './ports.js';

export class MissingRedisError extends Error {
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
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--appendonly', opts.persistent ? 'yes' : 'no');
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  child.stdout.resume();
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
