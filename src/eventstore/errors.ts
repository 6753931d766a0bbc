import type { ExpectedRevision } from './types.js';

/** Base of the event store's typed errors; `status` and `type` feed problem+json answers. */
export class EventStoreError extends Error {
  readonly status: number = 500;
  readonly type: string = 'urn:freight:problem:event-store';
}

/** The stream was not at the revision the caller expected. */
export class WrongExpectedVersion extends EventStoreError {
  override readonly status = 409;
  override readonly type = 'urn:freight:problem:concurrency-conflict';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** The stream's current last revision; -1n when the stream does not exist. */
    readonly actual: bigint,
  ) {
    super(`Stream ${streamId} is at revision ${actual === -1n ? 'none (no stream)' : actual}, expected ${String(expected)}`);
    this.name = 'WrongExpectedVersion';
  }
}

/** An event id is already stored somewhere else than where this append would put it. */
export class DuplicateEventId extends EventStoreError {
  override readonly status = 409;
  override readonly type = 'urn:freight:problem:duplicate-event-id';
  constructor(readonly eventId: string, readonly streamId: string) {
    super(`Event id ${eventId} is already stored in another place than this append to ${streamId}`);
    this.name = 'DuplicateEventId';
  }
}

/** The events cannot be stored as given (bad id, type or data). */
export class InvalidEvent extends EventStoreError {
  override readonly status = 400;
  override readonly type = 'urn:freight:problem:invalid-event';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEvent';
  }
}
