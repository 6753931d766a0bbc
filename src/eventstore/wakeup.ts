/** Lets many waiters sleep until woken or until their timeout, whichever is first. */
export class Wakeup {
  private waiters = new Set<() => void>();
  /** Counts wake-ups, so a waiter that was busy when one came does not sleep through it. */
  seq = 0;

  /** Waits unless a wake-up came since `since` (a value of `seq` read earlier). */
  wait(timeoutMs: number, since = this.seq): Promise<'woken' | 'timeout'> {
    if (since !== this.seq) return Promise.resolve('woken');
    return new Promise((resolve) => {
      const done = (why: 'woken' | 'timeout') => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(why);
      };
      const wake = () => done('woken');
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      this.waiters.add(wake);
    });
  }

  wake(): void {
    this.seq++;
    for (const w of [...this.waiters]) w();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Exponential backoff with full jitter, in ms. */
export function backoff(attempt: number, baseMs = 50, maxMs = 5_000): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
}
