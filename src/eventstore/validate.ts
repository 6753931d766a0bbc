import { InvalidEvent } from './errors.js';
import type { EventData, ExpectedRevision } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STREAM = /^[A-Za-z][A-Za-z0-9_]*-\S+$/;

/** Checks what both adapters refuse, so they refuse it alike and before any IO. */
export function validateAppend(streamId: string, events: readonly EventData[], expected: ExpectedRevision): void {
  if (!STREAM.test(streamId) || streamId.length > 200) {
    throw new InvalidEvent(`Stream id "${streamId}" is not of the form category-id`);
  }
  if (typeof expected === 'bigint' && expected < 0n) {
    throw new InvalidEvent(`Expected revision ${expected} is negative; use 'no_stream'`);
  }
  if (events.length === 0) throw new InvalidEvent('An append needs at least one event');
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
