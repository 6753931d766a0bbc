/** The event-store port. Both adapters (postgres/, esdb/) pass test/contract. */

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** A global position. EventStoreDB: commit/prepare log positions; Postgres: transaction id / sequence. */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  actor?: string;
  /** Version of the event's data shape; upcasters bring older ones to the current shape on read. */
  schemaVersion?: number;
  [key: string]: unknown;
}

export interface EventData {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: EventMetadata;
}

export interface RecordedEvent<Data = unknown> {
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: Position;
  readonly data: Data;
  readonly metadata: EventMetadata;
  readonly createdAt: Date;
}

export interface AppendResult {
  /** The revision of the last event of the stream after this append. */
  readonly nextExpectedRevision: bigint;
  readonly position: Position;
}

export type Direction = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  direction?: Direction;
  /** Inclusive. Defaults to the start (forwards) or the end (backwards). */
  fromRevision?: bigint | 'start' | 'end';
  maxCount?: number;
}

export interface EventFilter {
  /** Stream id prefixes, e.g. `load-`. */
  streamPrefixes?: readonly string[];
  /** Exact event types. */
  eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  direction?: Direction;
  /** Exclusive: the first event returned is the one after (forwards) or before (backwards) it. */
  fromPosition?: Position | 'start' | 'end';
  maxCount?: number;
  filter?: EventFilter;
}

export interface SubscribeOptions {
  /** Exclusive; 'start' delivers every event, 'end' only new ones. */
  fromPosition?: Position | 'start' | 'end';
  filter?: EventFilter;
}

/**
 * Said by a subscription that moved past events its filter skipped: every matching event at or
 * before `position` has been delivered. A consumer can checkpoint there, so that after a quiet
 * spell (for it) it neither reads the skipped events again nor counts them as lag.
 */
export interface CheckpointMark {
  readonly kind: 'checkpoint';
  readonly position: Position;
}

export const isCheckpointMark = (x: RecordedEvent | CheckpointMark): x is CheckpointMark =>
  (x as CheckpointMark).kind === 'checkpoint';

/**
 * A catch-up-then-live subscription to `$all`: every matching event exactly once, in global
 * order. Iterate it, or `withCheckpoints()` for the same events with marks between them (one
 * or the other); `close()` ends the iteration.
 */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  withCheckpoints(): AsyncIterable<RecordedEvent | CheckpointMark>;
  close(): Promise<void>;
}

/** What holds delivery to subscribers back, if anything (see `EventStore.deliveryHold`). */
export interface DeliveryHold {
  /** Committed events subscribers cannot be given yet (counted up to 10,001). */
  heldEvents: number;
  /** How long the oldest of them has waited, in seconds (0 when none waits). */
  heldSeconds: number;
  /** What holds them (Postgres: the oldest append still open), when known. */
  holder?: { pid: number; applicationName: string; state: string; query: string; openSeconds: number };
}

export interface EventStore {
  readonly name: 'postgres' | 'esdb';
  append(
    streamId: string,
    events: readonly EventData[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>;
  /** Reads a stream; a stream that does not exist reads as empty. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** The position of the newest event (of those matching `filter`), or undefined when there is none. */
  headPosition(filter?: EventFilter): Promise<Position | undefined>;
  /** Counts matching events after `after` (all when absent), stopping at `limit`. Lag and progress use it. */
  countEvents(options?: { after?: Position; filter?: EventFilter; limit?: number }): Promise<number>;
  /**
   * Whether a subscriber (with `filter`) whose last event is at `after` has nothing more to receive
   * at or before `upTo`: no committed matching event lies between, and no append still in flight
   * could land there. A read of one's own write (`?minPosition=`) waits until it holds.
   */
  caughtUp(after: Position | undefined, upTo: Position, filter?: EventFilter): Promise<boolean>;
  /**
   * Calls `listener` whenever an answer of `caughtUp` may have changed other than by the subscriber
   * moving on; answers a function that stops it. On Postgres: an append committed (in this process
   * or, heard through NOTIFY, in another), one of this process's appends failed, or notifications
   * may have been missed; the store's LISTEN connection starts if it has not. On EventStoreDB never:
   * positions are given in commit order there, so only the subscriber's own progress changes it.
   */
  onCaughtUpChange(listener: () => void): () => void;
  /**
   * Committed events that subscribers cannot be given yet, and why. On Postgres: events behind an
   * append still in flight (nothing else holds readers back); on EventStoreDB: what this process's
   * live subscriptions have not received yet.
   */
  deliveryHold(): Promise<DeliveryHold>;
  subscribeToAll(options?: SubscribeOptions): Subscription;
  /**
   * Retention, the EventStoreDB way: the stream's events expire after `maxAgeSeconds` ($maxAge).
   * The Postgres store keeps no such setting (it does nothing): its retention is `deleteOlderThan`.
   */
  setMaxAge(streamId: string, maxAgeSeconds: number): Promise<void>;
  /**
   * Retention, the Postgres way: deletes events of streams starting with `streamPrefix` written
   * before `before`, in short transactions, answering how many. Stream revisions are never reused.
   * On EventStoreDB it does nothing ($maxAge and scavenging do the work) and answers 0.
   */
  deleteOlderThan(options: { streamPrefix: string; before: Date; batchSize?: number }): Promise<number>;
  close(): Promise<void>;
}
