import type { RecordedEvent, Subscription } from '../../src/eventstore/types.js';

/** Reads from a subscription until `count` events arrived or `timeoutMs` passed. */
export async function take(sub: Subscription, count: number, timeoutMs = 10_000): Promise<RecordedEvent[]> {
  const got: RecordedEvent[] = [];
  if (count === 0) return got;
  const iterator = sub[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      iterator.next(),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left))),
    ]);
    clearTimeout(timer);
    if (next === 'timeout' || next.done) break;
    got.push(next.value);
  }
  return got;
}

/** Runs a subscription in the background, collecting what it delivers. */
export function collect(sub: Subscription): { events: RecordedEvent[]; done: Promise<void>; error?: unknown } {
  const events: RecordedEvent[] = [];
  const state: { events: RecordedEvent[]; done: Promise<void>; error?: unknown } = { events, done: Promise.resolve() };
  state.done = (async () => {
    try {
      for await (const e of sub) events.push(e);
    } catch (err) {
      state.error = err;
    }
  })();
  return state;
}

export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}
