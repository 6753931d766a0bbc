import winston from 'winston';
import { currentContext } from './context.js';
import type { Config } from './config.js';

export type Logger = winston.Logger;

// Adds the request/correlation ids of the current async context to every line, and spells out
// Error values (JSON.stringify would print them as {}).
const withContext = winston.format((info) => {
  const ctx = currentContext();
  if (ctx) {
    for (const [k, v] of Object.entries(ctx)) if (v !== undefined && info[k] === undefined) info[k] = v;
  }
  for (const [k, v] of Object.entries(info)) if (v instanceof Error) info[k] = describeError(v);
  return info;
});

export function describeError(err: Error): Record<string, unknown> {
  const { name, message, stack } = err;
  const extra = Object.fromEntries(Object.entries(err).filter(([, v]) => typeof v !== 'object' || v === null));
  return { name, message, ...extra, stack };
}

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT' | 'NODE_ENV'>): Logger {
  const format = config.LOG_FORMAT ?? (config.NODE_ENV === 'production' ? 'json' : 'pretty');
  const base = [withContext(), winston.format.timestamp(), winston.format.errors({ stack: true })];
  return winston.createLogger({
    level: config.LOG_LEVEL,
    format:
      format === 'json'
        ? winston.format.combine(...base, winston.format.json())
        : winston.format.combine(
            ...base,
            winston.format.colorize(),
            winston.format.printf(({ timestamp, level, message, stack, ...rest }) => {
              const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest, bigintReplacer)}` : '';
              return `${String(timestamp)} ${level} ${String(message)}${extra}${stack ? `\n${String(stack)}` : ''}`;
            }),
          ),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
  });
}

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
