import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HttpProblem, PROBLEM_BASE } from './errors.js';

/** A command's first answer, kept for retries with the same Idempotency-Key. */
export interface StoredAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

interface Entry {
  fingerprint: string;
  state: 'pending' | 'done';
  answer?: StoredAnswer;
}

export type Begin = { kind: 'new' } | { kind: 'replay'; answer: StoredAnswer };

const KEY = /^[\x21-\x7e]{1,255}$/;
/** A request holding a key this long without finishing (a crashed process) frees it. */
const PENDING_TTL_SECONDS = 60;

export function fingerprint(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

/**
 * The Idempotency-Key store (Redis). A retry with the same key and request gets the first answer
 * and runs nothing; the same key with another request is a 422; a retry while the first is still
 * running is a 409. Failed commands free their key, so the client can retry after a fix.
 * Durability does not rest on Redis: event ids derive from the key (see application/handle.ts),
 * so even with the cache lost a retried command appends nothing twice.
 */
export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  static validKey(key: string): boolean {
    return KEY.test(key);
  }

  private key(scope: string, key: string) {
    return `idem:${scope}:${key}`;
  }

  async begin(scope: string, key: string, fp: string): Promise<Begin> {
    const k = this.key(scope, key);
    const pending: Entry = { fingerprint: fp, state: 'pending' };
    const set = await this.redis.set(k, JSON.stringify(pending), 'EX', PENDING_TTL_SECONDS, 'NX');
    if (set === 'OK') return { kind: 'new' };
    const raw = await this.redis.get(k);
    if (raw === null) return this.begin(scope, key, fp); // expired in between
    const entry = JSON.parse(raw) as Entry;
    if (entry.fingerprint !== fp) {
      throw new HttpProblem(
        422,
        `${PROBLEM_BASE}idempotency-key-reused`,
        'This Idempotency-Key was used with a different request',
      );
    }
    if (entry.state === 'pending' || !entry.answer) {
      throw new HttpProblem(
        409,
        `${PROBLEM_BASE}idempotency-key-in-use`,
        'A request with this Idempotency-Key is still being processed; retry shortly',
      );
    }
    return { kind: 'replay', answer: entry.answer };
  }

  async complete(scope: string, key: string, fp: string, answer: StoredAnswer): Promise<void> {
    const entry: Entry = { fingerprint: fp, state: 'done', answer };
    await this.redis.set(this.key(scope, key), JSON.stringify(entry), 'EX', this.ttlSeconds);
  }

  async release(scope: string, key: string): Promise<void> {
    await this.redis.del(this.key(scope, key));
  }
}
