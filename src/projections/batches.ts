import { comparePositions } from '../eventstore/position.js';
import { type CheckpointMark, isCheckpointMark, type Position, type RecordedEvent } from '../eventstore/types.js';

const IDLE = Symbol('idle');
const nextTurn = () => new Promise<typeof IDLE>((r) => setImmediate(() => r(IDLE)));

export interface Batch {
  events: RecordedEvent[];
  /** Set when the subscription moved past skipped events: every matching event up to here is in this batch or an earlier one. */
  skippedTo?: Position;
}

/**
 * Groups a subscription's events into batches of at most `max`: a batch closes when it is full
 * or when the subscription has nothing more ready on this turn of the event loop (it would have to
 * go to the database), so catching up makes big batches and live traffic small ones. Checkpoint
 * marks ride along as `skippedTo`; a batch may hold only a mark.
 */
export async function* batches(
  source: AsyncIterable<RecordedEvent | CheckpointMark>,
  max: number,
): AsyncGenerator<Batch> {
  const it = source[Symbol.asyncIterator]();
  let pending = it.next();
  for (;;) {
    const first = await pending;
    if (first.done) return;
    const batch: Batch = { events: [] };
    const take = (x: RecordedEvent | CheckpointMark) => {
      if (!isCheckpointMark(x)) batch.events.push(x);
      else if (!batch.skippedTo || comparePositions(x.position, batch.skippedTo) > 0) batch.skippedTo = x.position;
    };
    take(first.value);
    pending = it.next();
    while (batch.events.length < max) {
      const r = await Promise.race([pending, nextTurn()]);
      if (r === IDLE) break;
      if (r.done) {
        yield batch;
        return;
      }
      take(r.value);
      pending = it.next();
    }
    yield batch;
  }
}
