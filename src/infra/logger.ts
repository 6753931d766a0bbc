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

/** Keys whose values never reach a log line (any nesting, any case). */
const SECRET_KEYS =
  /^(authorization|cookie|set-cookie|token|access_?token|refresh_?token|password|secret|client_?secret|api_?key|web_?key|stripe[-_]?signature|card(_?number)?|number|cvc|cvv|exp_(month|year)|iban|account_?number|routing_?number)$/i;
/** Values that look like credentials or card numbers, wherever they appear in a string. */
const SECRET_VALUES: [RegExp, string][] = [
  [/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [REDACTED]'],
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[REDACTED JWT]'],
  [/\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]+/g, '[REDACTED KEY]'],
  [/\bwhsec_[A-Za-z0-9]+/g, '[REDACTED KEY]'],
  [/([?&](webKey|token|access_token)=)[^&\s"]+/gi, '$1[REDACTED]'],
];
/** 13–19 digits (spaces or dashes allowed) that pass the Luhn check: a card number. */
const CARD = /\b(?:\d[ -]?){12,18}\d\b/g;
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    const masked = SECRET_VALUES.reduce((s, [re, by]) => s.replace(re, by), value);
    return masked.replace(CARD, (m) => (luhn(m.replace(/[ -]/g, '')) ? '[REDACTED CARD]' : m));
  }
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k,
      SECRET_KEYS.test(k) ? '[REDACTED]' : redact(v, depth + 1),
    ]),
  );
}

// Last before output: no secret, token or card number leaves the process in a log line.
const redacting = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    (info as Record<string, unknown>)[key] = SECRET_KEYS.test(key) ? '[REDACTED]' : redact(v);
  }
  return info;
});

export function describeError(err: Error): Record<string, unknown> {
  const { name, message, stack } = err;
  const extra = Object.fromEntries(Object.entries(err).filter(([, v]) => typeof v !== 'object' || v === null));
  return { name, message, ...extra, stack };
}

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT' | 'NODE_ENV'>): Logger {
  const format = config.LOG_FORMAT ?? (config.NODE_ENV === 'production' ? 'json' : 'pretty');
  const base = [withContext(), winston.format.timestamp(), winston.format.errors({ stack: true }), redacting()];
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
