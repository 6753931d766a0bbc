import type { AllStreamSubscription } from '@eventstore/db-client';
import { comparePositions } from '../position.js';
import {
  type CheckpointMark,
  type EventFilter,
  isCheckpointMark,
  type Position,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../types.js';
import { backoff, sleep } from '../wakeup.js';
import { type EsdbRecorded, matches, toRecorded } from './recorded.js';

/** What a subscription reads through (the store): the server's subscription, the head, and where errors go. */
export interface SubscriptionSource {
  headPosition(): Promise<Position | undefined>;
  openServerSubscription(from: Position | 'start' | 'end', filter?: EventFilter): AllStreamSubscription;
  onError(err: unknown, where: string): void;
}

/** Skipped events between two checkpoint marks. */
const MARK_EVERY = 1_000;

/**
 * A catch-up subscription to $all that outlives dropped connections: after an error it
 * subscribes again from the last position it delivered, skipping anything at or before it.
 */
export class EsdbSubscription implements Subscription {
  private closed = false;
  private current?: AllStreamSubscription;
  private iterator?: AsyncGenerator<RecordedEvent | CheckpointMark>;
  /** The last event received (matching or not), for `deliveryHold`. */
  lastSeen?: Position;

  constructor(
    private readonly store: SubscriptionSource,
    readonly options: SubscribeOptions,
    private readonly onClose: () => void,
  ) {}

  withCheckpoints(): AsyncIterable<RecordedEvent | CheckpointMark> {
    return { [Symbol.asyncIterator]: () => (this.iterator ??= this.run()) };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecordedEvent> {
    for await (const x of this.withCheckpoints()) if (!isCheckpointMark(x)) yield x;
  }

  private async *run(): AsyncGenerator<RecordedEvent | CheckpointMark> {
    const { filter } = this.options;
    let position: Position | 'start' | 'end' = this.options.fromPosition ?? 'start';
    let failures = 0;
    let skipped = 0;
    try {
      // Resolve 'end' once, so a resubscription after a drop does not skip what came meanwhile.
      if (position === 'end') position = (await this.store.headPosition()) ?? 'start';
      if (typeof position === 'object') this.lastSeen = position;
      while (!this.closed) {
        const sub = this.store.openServerSubscription(position, filter);
        this.current = sub;
        try {
          for await (const r of sub) {
            if (this.closed) return;
            failures = 0;
            if (!r.event) continue;
            const e = toRecorded(r.event as EsdbRecorded);
            if (typeof position === 'object' && comparePositions(e.position, position) <= 0) continue;
            position = e.position;
            this.lastSeen = e.position;
            if (matches(e, filter)) {
              yield e;
              skipped = 0;
            } else if (++skipped >= MARK_EVERY) {
              // Events the server's filter let through but ours skips: say how far we got.
              skipped = 0;
              yield { kind: 'checkpoint', position };
            }
          }
          if (this.closed) return;
          throw new Error('EventStoreDB subscription ended');
        } catch (err) {
          if (this.closed) return;
          this.store.onError(err, 'subscription');
          await sleep(backoff(failures++, 100, 5_000));
        } finally {
          await sub.unsubscribe().catch(() => {});
        }
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    await this.current?.unsubscribe().catch(() => {});
  }
}
