import { comparePositions, START } from '../position.js';
import type { EventFilter, Position, RecordedEvent } from '../types.js';
import { backoff, sleep, Wakeup } from '../wakeup.js';

/** What the tail needs of the store: an unfiltered forwards page of stable events, and the head. */
export interface TailSource {
  readonly notifier: { readonly wakeup: Wakeup; readonly heard?: Position; unsure: boolean };
  scanPage(from: Position, limit: number): Promise<{ events: RecordedEvent[]; more: boolean }>;
  headPosition(): Promise<Position | undefined>;
}

export function matches(filter: EventFilter | undefined, e: RecordedEvent): boolean {
  if (filter?.streamPrefixes?.length && !filter.streamPrefixes.some((p) => e.streamId.startsWith(p))) return false;
  if (filter?.eventTypes?.length && !filter.eventTypes.includes(e.type)) return false;
  return true;
}

/**
 * The newest events of $all, read once for every live subscription of a store. Without it each
 * subscription (a projector, a reactor, the broadcaster: fifteen in one process) ran its own
 * query after every append; with it, one unfiltered page per wake-up serves them all from memory,
 * each filtering for itself.
 *
 * It holds every stable event after `from` up to `to`, in (tx_id, seq) order, read with the same
 * rule as a subscription (below the stable bound, resuming after the last position), so a
 * subscription whose position is at or after `from` finds in it exactly what a query would have
 * returned. It keeps the newest `capacity` events (up to a quarter more between trims, so that a full
 * tail is not copied on every read); a subscription that fell further behind reads from
 * the table until it catches up. It reads only while some subscription is waiting on it.
 */
export class LiveTail {
  /** Woken when the tail has read new events (or gave up reading, on close). */
  readonly changed = new Wakeup();
  private events: RecordedEvent[] = [];
  private from?: Position;
  private to?: Position;
  private running = false;
  private closed = false;
  private users = 0;

  constructor(
    private readonly source: TailSource,
    private readonly opts: { pollMs: number; page?: number; capacity?: number; onError(err: unknown): void },
  ) {}

  /** A live subscription starts relying on the tail (it starts reading, if it was not). */
  acquire(): void {
    this.users++;
    if (!this.running && !this.closed) {
      this.running = true;
      void this.loop();
    }
  }

  release(): void {
    this.users = Math.max(0, this.users - 1);
  }

  /** Whether every stable event after `position` that the tail has read is in it. */
  covers(position: Position): boolean {
    return this.from !== undefined && comparePositions(position, this.from) >= 0;
  }

  /**
   * Up to `limit` events after `position` matching the filter, and how far they were looked at:
   * `scannedTo` is the last match when the page filled, else the newest event read.
   */
  after(
    position: Position,
    limit: number,
    filter?: EventFilter,
  ): { events: RecordedEvent[]; scannedTo?: Position; more: boolean } {
    const out: RecordedEvent[] = [];
    const events = this.events;
    // Binary search for the first event after the position.
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePositions(events[mid]!.position, position) <= 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < events.length; i++) {
      const e = events[i]!;
      if (!matches(filter, e)) continue;
      out.push(e);
      if (out.length === limit) return { events: out, scannedTo: e.position, more: i < events.length - 1 };
    }
    return {
      events: out,
      scannedTo: this.to && comparePositions(this.to, position) > 0 ? this.to : undefined,
      more: false,
    };
  }

  close(): void {
    this.closed = true;
    this.changed.wake();
  }

  private async loop(): Promise<void> {
    const { source, opts } = this;
    const { notifier } = source;
    const page = opts.page ?? 1_000;
    const capacity = opts.capacity ?? 20_000;
    let failures = 0;
    let quickRetry = 0;
    // Whether an announced position lies past what has been read.
    const behind = () =>
      notifier.heard !== undefined && this.to !== undefined && comparePositions(notifier.heard, this.to) > 0;
    try {
      while (!this.closed && this.users > 0) {
        let seen = notifier.wakeup.seq;
        notifier.unsure = false;
        let got: { events: RecordedEvent[]; more: boolean };
        try {
          if (this.to === undefined) {
            this.to = (await source.headPosition()) ?? START;
            this.from = this.to;
            this.changed.wake();
          }
          got = await source.scanPage(this.to, page);
          failures = 0;
        } catch (err) {
          if (this.closed) break;
          opts.onError(err);
          await sleep(backoff(failures++, 50, 2_000));
          continue;
        }
        if (got.events.length > 0) {
          this.events.push(...got.events);
          this.to = got.events[got.events.length - 1]!.position;
          if (this.events.length > capacity + (capacity >>> 2)) {
            const drop = this.events.length - capacity;
            this.from = this.events[drop - 1]!.position;
            this.events = this.events.slice(drop);
          }
          this.changed.wake();
        }
        if (got.more) continue;
        if (behind()) {
          // Announced but not yet readable: an older append is still open. Look again soon, backing off to every 100 ms.
          quickRetry++;
          await notifier.wakeup.wait(Math.min(opts.pollMs, 100, 2 ** quickRetry), seen);
          continue;
        }
        quickRetry = 0;
        // Sleep until something new is announced (a wake-up for what was already read, such as
        // this process's own notification coming back, costs no query), or the poll is due.
        for (;;) {
          const why = await notifier.wakeup.wait(opts.pollMs, seen);
          if (why === 'timeout' || notifier.unsure || behind() || this.closed || this.users === 0) break;
          seen = notifier.wakeup.seq;
        }
      }
    } finally {
      this.running = false;
      // Nobody was waiting on it: what it holds may go stale; start afresh next time.
      this.events = [];
      this.from = undefined;
      this.to = undefined;
      this.changed.wake();
    }
  }
}
