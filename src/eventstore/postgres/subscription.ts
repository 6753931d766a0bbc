import { comparePositions, START } from '../position.js';
import {
  type CheckpointMark,
  type EventFilter,
  isCheckpointMark,
  type Position,
  type RecordedEvent,
  type Subscription,
} from '../types.js';
import { backoff, sleep } from '../wakeup.js';
import type { Notifier } from './notifier.js';
import type { LiveTail } from './tail.js';

/** What a subscription reads through (the store): its pages, its head, and its shared tail and notifier. */
export interface SubscriptionSource {
  readonly tail: LiveTail;
  readonly notifier: Notifier;
  headPosition(): Promise<Position | undefined>;
  scanPage(
    from: Position,
    limit: number,
    filter?: EventFilter,
    window?: number,
  ): Promise<{ events: RecordedEvent[]; scannedTo?: Position; more: boolean; nextWindow?: number }>;
}

/**
 * Catch-up then live over $all. Reads pages below the stable bound (the oldest append in flight) in (tx_id, seq) order and
 * resumes after the last delivered position, so nothing is skipped or repeated even when
 * transactions commit out of order. Query errors (a lost connection) are retried with backoff
 * from the same position: the subscription resubscribes by itself. Once caught up it takes new
 * events from the store's shared tail (see LiveTail) instead of querying; a subscription that
 * falls behind the tail reads the table again. When a filtered page moved past events it
 * skipped, it says so with a checkpoint mark (see `withCheckpoints`).
 */
export class PgSubscription implements Subscription {
  private closed = false;
  /** Caught up once: relies on the store's shared tail from then on. */
  private live = false;
  private iterator?: AsyncGenerator<RecordedEvent | CheckpointMark>;

  constructor(
    private readonly store: SubscriptionSource,
    private readonly opts: {
      from: Position | 'start' | 'end';
      filter?: EventFilter;
      pollMs: number;
      batch: number;
      onError(err: unknown): void;
      onClose(): void;
    },
  ) {}

  /** One iteration per subscription: iterating again continues where it left off. */
  withCheckpoints(): AsyncIterable<RecordedEvent | CheckpointMark> {
    return { [Symbol.asyncIterator]: () => (this.iterator ??= this.run()) };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecordedEvent> {
    for await (const x of this.withCheckpoints()) if (!isCheckpointMark(x)) yield x;
  }

  private async *run(): AsyncGenerator<RecordedEvent | CheckpointMark> {
    const { store, opts } = this;
    const tail = store.tail;
    void store.notifier.start();
    let position: Position | undefined =
      typeof opts.from === 'object' ? opts.from : opts.from === 'start' ? START : undefined;
    let failures = 0;
    let window: number | undefined;
    try {
      while (!this.closed) {
        const seen = tail.changed.seq;
        let page: { events: RecordedEvent[]; scannedTo?: Position; more: boolean; nextWindow?: number };
        if (position && this.live && tail.covers(position)) {
          // At the head: the shared tail has what a query would return, and costs no query.
          page = tail.after(position, opts.batch, opts.filter);
        } else {
          try {
            position ??= (await store.headPosition()) ?? START;
            page = await store.scanPage(position, opts.batch, opts.filter, window);
            window = page.nextWindow;
            failures = 0;
          } catch (err) {
            if (this.closed) break;
            opts.onError(err);
            await sleep(backoff(failures++, 50, 2_000));
            continue;
          }
        }
        for (const event of page.events) {
          if (this.closed) return;
          // Defensive: positions only ever move forward.
          if (comparePositions(event.position, position) <= 0) continue;
          position = event.position;
          yield event;
        }
        // Skip what the filter passed over, so it is not scanned again, and say so.
        if (page.scannedTo && comparePositions(page.scannedTo, position) > 0) {
          position = page.scannedTo;
          yield { kind: 'checkpoint', position };
        }
        if (page.more) continue;
        if (!this.live) {
          // Caught up: from now on the tail reads new events for this subscription.
          this.live = true;
          tail.acquire();
          continue;
        }
        await tail.changed.wait(opts.pollMs, seen);
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.live) this.store.tail.release();
    this.opts.onClose();
    this.store.tail.changed.wake();
  }
}
