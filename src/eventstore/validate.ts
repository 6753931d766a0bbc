import { InvalidArgument, InvalidEvent } from './errors.js';
import type { EventData, EventFilter, ExpectedRevision, Position, ReadAllOptions, ReadStreamOptions } from './types.js';

/*
 * What both adapters refuse, so that they refuse it alike, with a typed error, and before any IO.
 * A value the port does not accept must never reach a driver (Postgres answers a bigint overflow
 * with a raw error, EventStoreDB's client with its own) nor look like a concurrency conflict.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STREAM = /^[A-Za-z][A-Za-z0-9_]*-\S+$/;

/**
 * Revisions and the two halves of a position are non-negative bigints below 2^63, on both stores.
 * That is Postgres's `bigint` (revision, seq); its transaction ids (`xid8`) are unsigned 64-bit
 * but stay far below 2^63 (epoch << 32 | xid). EventStoreDB takes unsigned 64-bit revisions and
 * log positions, but its own never reach 2^63 (they are .NET longs on the server). One rule for
 * both keeps a position read from one store a valid argument to the other's code paths.
 */
export const REVISION_LIMIT = 2n ** 63n;

const isRevision = (x: unknown): x is bigint => typeof x === 'bigint' && x >= 0n && x < REVISION_LIMIT;

const REVISION_TEXT = 'a bigint from 0 to 2^63-1';
const EXPECTED_TEXT = `'any', 'no_stream', 'stream_exists' or a revision (${REVISION_TEXT})`;

export function validateAppend(streamId: string, events: readonly EventData[], expected: ExpectedRevision): void {
  if (typeof streamId !== 'string' || !STREAM.test(streamId) || streamId.length > 200) {
    throw new InvalidEvent(`Stream id "${String(streamId)}" is not of the form category-id`);
  }
  validateExpectedRevision(expected);
  if (!Array.isArray(events) || events.length === 0) throw new InvalidEvent('An append needs at least one event');
  const seen = new Set<string>();
  for (const e of events) {
    if (!UUID.test(e.id)) throw new InvalidEvent(`Event id "${e.id}" is not a uuid`);
    const id = e.id.toLowerCase();
    if (seen.has(id)) throw new InvalidEvent(`Event id ${e.id} appears twice in one append`);
    seen.add(id);
    if (!e.type || e.type.length > 200 || e.type.startsWith('$')) {
      throw new InvalidEvent(`Event type "${e.type}" is empty, too long or reserved`);
    }
    if (e.data === undefined) throw new InvalidEvent(`Event ${e.id} has no data`);
  }
}

/** A number, string or out-of-range bigint is refused here, not reported as a conflict by the store. */
export function validateExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists' || isRevision(expected)) return;
  throw new InvalidArgument('expectedRevision', expected, EXPECTED_TEXT);
}

export function validateReadStream(options: ReadStreamOptions): void {
  validateOptions(options);
  validateDirection(options.direction);
  const from: unknown = options.fromRevision;
  if (from !== undefined && from !== 'start' && from !== 'end' && !isRevision(from)) {
    throw new InvalidArgument('fromRevision', from, `'start', 'end' or ${REVISION_TEXT}`);
  }
  validateCount('maxCount', options.maxCount);
}

export function validateReadAll(options: ReadAllOptions): void {
  validateOptions(options);
  validateDirection(options.direction);
  const from: unknown = options.fromPosition;
  if (from !== 'start' && from !== 'end') validatePosition('fromPosition', from, "'start', 'end' or ");
  validateCount('maxCount', options.maxCount);
  validateFilter(options.filter);
}

/** The options of `countEvents`. */
export function validateCountEvents(options: { after?: Position; filter?: EventFilter; limit?: number }): void {
  validateOptions(options);
  validatePosition('after', options.after);
  validateFilter(options.filter);
  validateCount('limit', options.limit);
}

/** Absent, or `{ streamPrefixes?, eventTypes? }`, each an array of non-empty strings. */
export function validateFilter(filter: unknown): void {
  if (filter === undefined) return;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw new InvalidArgument('filter', filter, '{ streamPrefixes?, eventTypes? }');
  }
  for (const key of ['streamPrefixes', 'eventTypes'] as const) {
    const list: unknown = (filter as EventFilter)[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new InvalidArgument(`filter.${key}`, list, 'an array of non-empty strings');
    }
  }
}

/** Absent, or `{ commit, prepare }`, both bigints in the revision range (see REVISION_LIMIT). */
function validatePosition(option: string, position: unknown, alternatives = ''): void {
  if (position === undefined) return;
  if (typeof position !== 'object' || position === null) {
    throw new InvalidArgument(option, position, `${alternatives}{ commit, prepare }, each ${REVISION_TEXT}`);
  }
  for (const half of ['commit', 'prepare'] as const) {
    const value: unknown = (position as Position)[half];
    if (!isRevision(value)) throw new InvalidArgument(`${option}.${half}`, value, REVISION_TEXT);
  }
}

function validateDirection(direction: unknown): void {
  if (direction !== undefined && direction !== 'forwards' && direction !== 'backwards') {
    throw new InvalidArgument('direction', direction, "'forwards' or 'backwards'");
  }
}

/** A count of events: absent, or a whole number from 0 (which reads nothing) up. */
function validateCount(option: string, count: unknown): void {
  if (count === undefined) return;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new InvalidArgument(option, count, 'a whole number of events, 0 or more');
  }
}

function validateOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgument('options', options, 'an object');
}
