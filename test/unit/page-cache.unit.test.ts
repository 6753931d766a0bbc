import { expect } from 'chai';
import { PageCache } from '../../src/read-models/load-board/page-cache.js';

describe('PageCache', () => {
  const setup = (maxAgeMs = 1_000) => {
    const clock = { now: 0, stamp: 0, computed: 0 };
    const cache = new PageCache<{ n: number }>({
      maxAgeMs,
      stamp: () => clock.stamp,
      now: () => clock.now,
    });
    const compute = async () => ({ n: ++clock.computed });
    return { clock, cache, compute };
  };

  it('shares an answer while the stamp and the age allow, and per key', async () => {
    const { clock, cache, compute } = setup();
    expect(await cache.get('a', compute)).to.deep.equal({ n: 1 });
    expect(await cache.get('a', compute)).to.deep.equal({ n: 1 });
    expect(await cache.get('b', compute)).to.deep.equal({ n: 2 });
    clock.now = 999;
    expect(await cache.get('a', compute)).to.deep.equal({ n: 1 });
    expect(cache.counts).to.deep.equal({ hits: 2, misses: 2 });
  });

  it('computes again when the read model changed or the entry is too old', async () => {
    const { clock, cache, compute } = setup();
    await cache.get('a', compute);
    clock.stamp = 1;
    expect(await cache.get('a', compute)).to.deep.equal({ n: 2 });
    clock.now = 1_000;
    expect(await cache.get('a', compute)).to.deep.equal({ n: 3 });
  });

  it('runs one query for concurrent misses of a key, and keeps no failure', async () => {
    const { cache } = setup();
    let calls = 0;
    let fail = true;
    const slow = () =>
      new Promise<{ n: number }>((resolve, reject) =>
        setImmediate(() => {
          calls++;
          if (fail) reject(new Error('down'));
          else resolve({ n: calls });
        }),
      );
    const both = await Promise.allSettled([cache.get('a', slow), cache.get('a', slow)]);
    expect(both.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    expect(calls).to.equal(1);
    fail = false;
    expect(await cache.get('a', slow)).to.deep.equal({ n: 2 });
  });

  it('is off at an age of 0', async () => {
    const { cache, compute } = setup(0);
    await cache.get('a', compute);
    expect(await cache.get('a', compute)).to.deep.equal({ n: 2 });
  });
});
