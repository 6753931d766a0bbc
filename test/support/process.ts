import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first JSON log line whose message is `message`. */
  waitForLog(message: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs one of our CLIs (src/cli/<name>.ts) as a real process with JSON logs. */
export function spawnCli(name: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli', `${name}.ts`), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    waitForLog(message, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of out.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              const parsed = JSON.parse(line) as Record<string, unknown>;
              if (parsed.message === message) {
                cleanup();
                resolve(parsed);
                return;
              }
            } catch {
              /* a partial line */
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no "${message}" log within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          check();
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`process exited before "${message}"; output:\n${out}`));
          }
        });
        check();
      });
    },
  };
}
