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
    super(
      `Stream ${streamId} is at revision ${actual === -1n ? 'none (no stream)' : actual}, expected ${String(expected)}`,
    );
    this.name = 'WrongExpectedVersion';
  }
}

/** An event id is already stored somewhere else than where this append would put it. */
export class DuplicateEventId extends EventStoreError {
  override readonly status = 409;
  override readonly type = 'urn:freight:problem:duplicate-event-id';
  constructor(
    readonly eventId: string,
    readonly streamId: string,
  ) {
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

/**
 * An option of an event-store call is not a value the port accepts (a maxCount of -1, an
 * expectedRevision of 'foo'). Both adapters check before any IO, so neither lets a driver's error,
 * nor a misleading WrongExpectedVersion, out for it.
 */
export class InvalidArgument extends EventStoreError {
  override readonly status = 400;
  override readonly type = 'urn:freight:problem:invalid-argument';
  constructor(
    /** The option, as the caller spells it: `maxCount`, `fromPosition.commit`, `filter.eventTypes`. */
    readonly option: string,
    readonly value: unknown,
    /** What would have been accepted. */
    expected: string,
  ) {
    super(`Invalid ${option} ${showValue(value)}: expected ${expected}`);
    this.name = 'InvalidArgument';
  }
}

/** A value as a message can show it: strings quoted, bigints with their `n`, long text cut. */
export function showValue(value: unknown): string {
  let text: string;
  switch (typeof value) {
    case 'bigint':
      text = `${value}n`;
      break;
    case 'string':
      text = JSON.stringify(value);
      break;
    case 'object':
      try {
        text =
          value === null
            ? 'null'
            : Array.isArray(value)
              ? `[${value.map(showValue).join(', ')}]`
              : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
      } catch {
        text = Object.prototype.toString.call(value);
      }
      break;
    case 'symbol':
    case 'function':
      text = `(a ${typeof value})`;
      break;
    default:
      text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
