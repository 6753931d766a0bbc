import type { RecordedEvent } from '../eventstore/types.js';

const IDLE = Symbol('idle');
const nextTurn = () => new Promise<typeof IDLE>((r) => setImmediate(() => r(IDLE)));

/**
 * Groups a subscription's events into batches of at most `max`: a batch closes when it is full
 * or when the subscription has nothing more ready on this turn of the event loop (it would have to
 * go to the database), so catching up makes big batches and live traffic small ones.
 */
export async function* batches(source: AsyncIterable<RecordedEvent>, max: number): AsyncGenerator<RecordedEvent[]> {
  const it = source[Symbol.asyncIterator]();
  let pending = it.next();
  for (;;) {
    const first = await pending;
    if (first.done) return;
    const batch = [first.value];
    pending = it.next();
    while (batch.length < max) {
      const r = await Promise.race([pending, nextTurn()]);
      if (r === IDLE) break;
      if (r.done) {
        yield batch;
        return;
      }
      batch.push(r.value);
      pending = it.next();
    }
    yield batch;
  }
}
