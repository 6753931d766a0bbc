import { LRUCache } from 'lru-cache';

/**
 * Answers of a read model's queries, shared by every caller who would get the same answer, while
 * the read model has not changed. Each entry is stamped with the read model's change counter as it
 * was when its query began (`stamp`, see ProjectionProgress.changes): an entry is served only while
 * the counter still says the same and for at most `maxAgeMs` (the bound where a change is heard late
 * or not at all). Concurrent misses of one key share one query. A failed query is not kept.
 *
 * An event-sourced read model knows when it changes: every batch its projector commits says so. So
 * its pages can be shared exactly, where a cache in front of tables written by any request could
 * only guess with a TTL.
 */
export class PageCache<T extends object> {
  private readonly entries: LRUCache<string, { stamp: number; at: number; value: Promise<T> }>;

  constructor(
    private readonly opts: {
      /** Longest an entry is served; 0 turns the cache off. */
      maxAgeMs: number;
      /** The read model's change counter. */
      stamp: () => number;
      max?: number;
      now?: () => number;
    },
  ) {
    this.entries = new LRUCache({ max: opts.max ?? 1_000 });
  }

  /** Hits and misses so far (for tests and metrics). */
  readonly counts = { hits: 0, misses: 0 };

  get(key: string, compute: () => Promise<T>): Promise<T> {
    if (this.opts.maxAgeMs <= 0) return compute();
    const now = (this.opts.now ?? Date.now)();
    const stamp = this.opts.stamp();
    const had = this.entries.get(key);
    if (had && had.stamp === stamp && now - had.at < this.opts.maxAgeMs) {
      this.counts.hits++;
      return had.value;
    }
    this.counts.misses++;
    const entry = { stamp, at: now, value: compute() };
    this.entries.set(key, entry);
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry.value;
  }
}
