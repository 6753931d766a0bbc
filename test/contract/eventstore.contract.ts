import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { DuplicateEventId, InvalidArgument, WrongExpectedVersion } from '../../src/eventstore/errors.js';
import { comparePositions, formatPosition, parsePosition } from '../../src/eventstore/position.js';
import {
  type EventData,
  type EventStore,
  type ExpectedRevision,
  isCheckpointMark,
  type Position,
  type RecordedEvent,
} from '../../src/eventstore/types.js';
import { collect, take, until } from '../support/async.js';
import { uniquePrefix } from '../support/services.js';

/** What each adapter's test file provides to the one contract suite. */
export interface ContractFixture {
  store: EventStore;
  /** Kills the store's server connections (subscriptions must resume by themselves). */
  killConnections(): Promise<void>;
  close(): Promise<void>;
}

const ev = (type = 'Thing', data: unknown = { n: 1 }, metadata = {}): EventData => ({
  id: randomUUID(),
  type,
  data,
  metadata,
});
const many = (n: number, type = 'Thing') => Array.from({ length: n }, (_, i) => ev(type, { i }));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** A typed refusal of a bad argument that names the option and shows the value. */
function expectInvalidArgument(err: unknown, option: string, shown: string): void {
  expect(err, `${option} ${shown}`).to.be.instanceOf(InvalidArgument);
  expect((err as InvalidArgument).status).to.equal(400);
  expect((err as InvalidArgument).type).to.equal('urn:freight:problem:invalid-argument');
  expect((err as InvalidArgument).message)
    .to.include(option)
    .and.to.include(shown);
}

function expectStrictlyIncreasing(events: RecordedEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    expect(comparePositions(events[i - 1]!.position, events[i]!.position), `position ${i}`).to.equal(-1);
  }
}

export function eventStoreContract(setup: () => Promise<ContractFixture>): void {
  let fx: ContractFixture;
  let store: EventStore;
  let cat: string;
  const stream = (suffix: string = randomUUID()) => `${cat}-${suffix}`;

  before(async function () {
    fx = await setup();
    store = fx.store;
  });
  after(async () => fx?.close());
  beforeEach(() => {
    cat = uniquePrefix('c');
  });

  describe('expected revisions', () => {
    const cases: { name: string; exists: boolean; expected: ExpectedRevision; ok: boolean }[] = [
      { name: "'no_stream' on a new stream", exists: false, expected: 'no_stream', ok: true },
      { name: "'no_stream' on an existing stream", exists: true, expected: 'no_stream', ok: false },
      { name: "'stream_exists' on a new stream", exists: false, expected: 'stream_exists', ok: false },
      { name: "'stream_exists' on an existing stream", exists: true, expected: 'stream_exists', ok: true },
      { name: "'any' on a new stream", exists: false, expected: 'any', ok: true },
      { name: "'any' on an existing stream", exists: true, expected: 'any', ok: true },
      { name: 'the current revision', exists: true, expected: 1n, ok: true },
      { name: 'a revision behind the current one', exists: true, expected: 0n, ok: false },
      { name: 'a revision ahead of the current one', exists: true, expected: 7n, ok: false },
      { name: 'a revision on a new stream', exists: false, expected: 0n, ok: false },
    ];
    for (const c of cases) {
      it(`${c.ok ? 'accepts' : 'refuses'} ${c.name}`, async () => {
        const s = stream();
        if (c.exists) await store.append(s, many(2), { expectedRevision: 'no_stream' });
        const before = c.exists ? 1n : -1n;
        const attempt = store.append(s, [ev()], { expectedRevision: c.expected });
        if (c.ok) {
          const r = await attempt;
          expect(r.nextExpectedRevision).to.equal(before + 1n);
        } else {
          const err = await rejection(attempt);
          expect(err).to.be.instanceOf(WrongExpectedVersion);
          expect((err as WrongExpectedVersion).actual).to.equal(before);
          expect((err as WrongExpectedVersion).expected).to.equal(c.expected);
          expect((err as WrongExpectedVersion).status).to.equal(409);
          expect(await store.readStream(s)).to.have.length(c.exists ? 2 : 0);
        }
      });
    }

    it('lets exactly one of two racing appends at the same revision win', async () => {
      const s = stream();
      await store.append(s, [ev()]);
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => store.append(s, [ev()], { expectedRevision: 0n })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).to.be.instanceOf(WrongExpectedVersion);
      expect(await store.readStream(s)).to.have.length(2);
    });

    it('fails only the conflicting append of several sent together', async () => {
      const a = stream('a');
      const b = stream('b');
      await store.append(a, [ev()]);
      const [ra, rb] = await Promise.allSettled([
        store.append(a, [ev()], { expectedRevision: 'no_stream' }),
        store.append(b, [ev()], { expectedRevision: 'no_stream' }),
      ]);
      expect(ra.status).to.equal('rejected');
      expect(rb.status).to.equal('fulfilled');
    });
  });

  describe('idempotent re-append', () => {
    for (const expected of ['no_stream', 'any', 'exact'] as const) {
      it(`stores a retried append once (expected ${expected})`, async () => {
        const s = stream();
        await store.append(s, many(3));
        const events = many(2);
        const exp: ExpectedRevision = expected === 'exact' ? 2n : expected === 'no_stream' ? 'no_stream' : 'any';
        const target = expected === 'no_stream' ? stream() : s;
        const first = await store.append(target, events, { expectedRevision: exp });
        const again = await store.append(target, events, { expectedRevision: exp });
        expect(again.nextExpectedRevision).to.equal(first.nextExpectedRevision);
        expect(comparePositions(again.position, first.position)).to.equal(0);
        const stored = await store.readStream(target);
        expect(stored.filter((e) => events.some((x) => x.id === e.id))).to.have.length(2);
      });
    }

    it('refuses the same ids when the expectation no longer holds for their place', async () => {
      const s = stream();
      const events = many(2);
      await store.append(s, events, { expectedRevision: 'no_stream' });
      await store.append(s, [ev()]);
      const err = await rejection(store.append(s, events, { expectedRevision: 5n }));
      expect(err).to.be.instanceOf(WrongExpectedVersion);
      expect(await store.readStream(s)).to.have.length(3);
    });

    // The stored id sits where each expectation puts the append's start: a conflict is ruled out,
    // and only the reused id is wrong. (Both stores can tell these cases; see esdb/store.ts.)
    const partial: { label: string; before: number; expected: ExpectedRevision }[] = [
      { label: "'any'", before: 0, expected: 'any' },
      { label: "'stream_exists'", before: 0, expected: 'stream_exists' },
      { label: "'no_stream'", before: 0, expected: 'no_stream' },
      { label: 'the revision before it', before: 1, expected: 0n },
    ];
    for (const c of partial) {
      it(`refuses an id stored in this stream followed by a new one as a duplicate id, not a conflict (expected ${c.label})`, async () => {
        const s = stream();
        const stored = ev();
        const seeded = [...many(c.before), stored];
        await store.append(s, seeded);
        const filter = { streamPrefixes: [`${cat}-`] };
        const head = await store.headPosition(filter);
        const err = await rejection(store.append(s, [stored, ev()], { expectedRevision: c.expected }));
        expect(err).to.be.instanceOf(DuplicateEventId);
        expect((err as DuplicateEventId).status).to.equal(409);
        expect((err as DuplicateEventId).eventId.toLowerCase()).to.equal(stored.id);
        expect((err as DuplicateEventId).message).to.include(stored.id);
        expect((await store.readStream(s)).map((e) => e.id)).to.deep.equal(seeded.map((e) => e.id));
        expect(await store.headPosition(filter)).to.deep.equal(head);
      });
    }
  });

  describe('bad arguments', () => {
    const filter = () => ({ streamPrefixes: [`${cat}-`] });

    it('reads nothing with a maxCount of 0, from a stream or $all, filtered or not', async () => {
      const s = stream();
      await store.append(s, many(3));
      expect(await store.readAll({ maxCount: 0, filter: filter() })).to.deep.equal([]);
      expect(await store.readAll({ maxCount: 0, filter: filter(), direction: 'backwards' })).to.deep.equal([]);
      expect(await store.readAll({ maxCount: 0 })).to.deep.equal([]);
      expect(await store.readStream(s, { maxCount: 0 })).to.deep.equal([]);
      expect(await store.readStream(s, { maxCount: 0, direction: 'backwards' })).to.deep.equal([]);
      expect(await store.readAll({ maxCount: 1, filter: filter() })).to.have.length(1);
    });

    it('refuses a maxCount that is negative, fractional, NaN or not a number', async () => {
      const s = stream();
      await store.append(s, many(3));
      const cases: [unknown, string][] = [
        [-1, '-1'],
        [2.5, '2.5'],
        [Number.NaN, 'NaN'],
        ['10', '"10"'],
        [10n, '10n'],
      ];
      for (const [maxCount, shown] of cases) {
        expectInvalidArgument(
          await rejection(store.readStream(s, { maxCount: maxCount as number })),
          'maxCount',
          shown,
        );
        expectInvalidArgument(
          await rejection(store.readAll({ maxCount: maxCount as number, filter: filter() })),
          'maxCount',
          shown,
        );
      }
    });

    it('refuses a fromRevision that is negative, 2^63 or more, or neither a bigint nor start/end', async () => {
      const s = stream();
      await store.append(s, many(3));
      const cases: [unknown, string][] = [
        [-1n, '-1n'],
        [2n ** 63n, '9223372036854775808n'],
        [2n ** 64n, '18446744073709551616n'],
        [1, '1'],
        ['first', '"first"'],
      ];
      for (const [fromRevision, shown] of cases) {
        for (const direction of ['forwards', 'backwards'] as const) {
          const err = await rejection(store.readStream(s, { fromRevision: fromRevision as bigint, direction }));
          expectInvalidArgument(err, 'fromRevision', shown);
        }
      }
      expect(await store.readStream(s, { fromRevision: 2n ** 63n - 1n })).to.deep.equal([]);
    });

    it('refuses a fromPosition out of range, an unknown direction, and filters that are not lists of non-empty strings', async () => {
      await store.append(stream(), many(2));
      const cases: [Parameters<EventStore['readAll']>[0], string, string][] = [
        [{ fromPosition: { commit: -1n, prepare: 0n } }, 'fromPosition.commit', '-1n'],
        [{ fromPosition: { commit: 0n, prepare: 2n ** 63n } }, 'fromPosition.prepare', '9223372036854775808n'],
        [{ fromPosition: { commit: 1, prepare: 1 } as never }, 'fromPosition.commit', '1'],
        [{ fromPosition: 'middle' as never }, 'fromPosition', '"middle"'],
        [{ direction: 'sideways' as never }, 'direction', '"sideways"'],
        [{ filter: { streamPrefixes: `${cat}-` as never } }, 'filter.streamPrefixes', `"${cat}-"`],
        [{ filter: { streamPrefixes: [`${cat}-`, ''] } }, 'filter.streamPrefixes', `["${cat}-", ""]`],
        [{ filter: { eventTypes: [42] as never } }, 'filter.eventTypes', '[42]'],
      ];
      for (const [options, option, shown] of cases) {
        expectInvalidArgument(await rejection(store.readAll(options)), option, shown);
      }
      expectInvalidArgument(
        await rejection(store.readStream(stream(), { direction: 'up' as never })),
        'direction',
        '"up"',
      );
      expectInvalidArgument(await rejection(store.headPosition({ eventTypes: [''] })), 'filter.eventTypes', '[""]');
    });

    it('refuses an expectedRevision that is not one as an invalid argument, not a conflict, appending nothing', async () => {
      const s = stream();
      const fresh = stream();
      await store.append(s, [ev()]);
      const head = await store.headPosition(filter());
      const cases: [unknown, string][] = [
        ['foo', '"foo"'],
        [1.5, '1.5'],
        [0, '0'],
        [-1n, '-1n'],
        [2n ** 63n, '9223372036854775808n'],
        [null, 'null'],
      ];
      for (const [expectedRevision, shown] of cases) {
        for (const target of [s, fresh]) {
          const err = await rejection(
            store.append(target, [ev()], { expectedRevision: expectedRevision as ExpectedRevision }),
          );
          expect(err).to.not.be.instanceOf(WrongExpectedVersion);
          expectInvalidArgument(err, 'expectedRevision', shown);
        }
      }
      expect(await store.readStream(s)).to.have.length(1);
      expect(await store.readStream(fresh)).to.deep.equal([]);
      expect(await store.headPosition(filter())).to.deep.equal(head);
    });
  });

  describe('reading streams', () => {
    let s: string;
    beforeEach(async () => {
      s = stream();
      await store.append(s, many(10));
    });

    it('reads forwards from the start and from a revision, with a max count', async () => {
      const all = await store.readStream(s);
      expect(all.map((e) => e.revision)).to.deep.equal([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
      expect(all.map((e) => (e.data as { i: number }).i)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const page = await store.readStream(s, { fromRevision: 4n, maxCount: 3 });
      expect(page.map((e) => e.revision)).to.deep.equal([4n, 5n, 6n]);
      expect(page.every((e) => e.streamId === s)).to.equal(true);
    });

    it('reads backwards from the end and from a revision', async () => {
      const last3 = await store.readStream(s, { direction: 'backwards', maxCount: 3 });
      expect(last3.map((e) => e.revision)).to.deep.equal([9n, 8n, 7n]);
      const from5 = await store.readStream(s, { direction: 'backwards', fromRevision: 5n, maxCount: 2 });
      expect(from5.map((e) => e.revision)).to.deep.equal([5n, 4n]);
    });

    it('reads a stream that does not exist as empty', async () => {
      expect(await store.readStream(stream())).to.deep.equal([]);
    });

    it('returns what was written: id, type, data, metadata, timestamps', async () => {
      const s2 = stream();
      const e = ev(
        'Typed',
        { nested: { a: [1, 'x', null, true] } },
        { correlationId: 'corr-1', actor: 'user-9', schemaVersion: 2 },
      );
      await store.append(s2, [e]);
      const [r] = await store.readStream(s2);
      expect(r!.id).to.equal(e.id);
      expect(r!.type).to.equal('Typed');
      expect(r!.data).to.deep.equal(e.data);
      expect(r!.metadata).to.include({ correlationId: 'corr-1', actor: 'user-9', schemaVersion: 2 });
      expect(r!.createdAt).to.be.instanceOf(Date);
      expect(Math.abs(r!.createdAt.getTime() - Date.now())).to.be.below(60_000);
    });
  });

  describe('reading $all', () => {
    it('reads forwards and backwards, from a position, with a max count, in strictly increasing order', async () => {
      const a = stream('a');
      const b = stream('b');
      await store.append(a, many(3));
      await store.append(b, many(4));
      await store.append(a, many(2));
      const filter = { streamPrefixes: [`${cat}-`] };
      const all = await store.readAll({ filter });
      expect(all).to.have.length(9);
      expectStrictlyIncreasing(all);
      expect(all.map((e) => e.streamId)).to.deep.equal([a, a, a, b, b, b, b, a, a]);

      const after3 = await store.readAll({ filter, fromPosition: all[2]!.position, maxCount: 4 });
      expect(after3.map((e) => e.id)).to.deep.equal(all.slice(3, 7).map((e) => e.id));

      const back = await store.readAll({ filter, direction: 'backwards', maxCount: 4 });
      expect(back.map((e) => e.id)).to.deep.equal(
        all
          .slice(5)
          .reverse()
          .map((e) => e.id),
      );
      const backFrom = await store.readAll({ filter, direction: 'backwards', fromPosition: all[5]!.position });
      expect(backFrom.map((e) => e.id)).to.deep.equal(
        all
          .slice(0, 5)
          .reverse()
          .map((e) => e.id),
      );
    });

    it('pages through everything by position with nothing missed or repeated', async () => {
      const filter = { streamPrefixes: [`${cat}-`] };
      for (let i = 0; i < 5; i++) await store.append(stream(`s${i % 2}`), many(7));
      const seen: RecordedEvent[] = [];
      let from: RecordedEvent['position'] | 'start' = 'start';
      for (;;) {
        const page: RecordedEvent[] = await store.readAll({ filter, fromPosition: from, maxCount: 4 });
        if (page.length === 0) break;
        seen.push(...page);
        from = page[page.length - 1]!.position;
      }
      expect(seen).to.have.length(35);
      expect(new Set(seen.map((e) => e.id)).size).to.equal(35);
      expectStrictlyIncreasing(seen);
    });

    it('filters by stream prefix and by event type', async () => {
      const other = uniquePrefix('o');
      await store.append(stream('x'), [ev('Alpha'), ev('Beta'), ev('Alpha')]);
      await store.append(`${other}-1`, [ev('Alpha')]);
      const byPrefix = await store.readAll({ filter: { streamPrefixes: [`${cat}-`, `${other}-`] } });
      expect(byPrefix).to.have.length(4);
      const alphas = await store.readAll({ filter: { streamPrefixes: [`${cat}-`], eventTypes: ['Alpha'] } });
      expect(alphas.map((e) => e.type)).to.deep.equal(['Alpha', 'Alpha']);
      const head = await store.headPosition({ streamPrefixes: [`${other}-`] });
      expect(head).to.not.equal(undefined);
      expect(comparePositions(head!, byPrefix.find((e) => e.streamId.startsWith(other))!.position)).to.equal(0);
    });

    it('says whether a reader at a position has anything of its filter left up to another', async () => {
      const wanted = { streamPrefixes: [`${cat}-`], eventTypes: ['Wanted'] };
      const a = await store.append(stream(), [ev('Wanted')]);
      const b = await store.append(stream(), [ev('Other')]);
      const c = await store.append(stream(), [ev('Wanted')]);
      // From nothing, a is still to come; at a, nothing wanted lies up to b (b is not wanted).
      expect(await store.caughtUp(undefined, a.position, wanted)).to.equal(false);
      expect(await store.caughtUp(a.position, a.position, wanted)).to.equal(true);
      expect(await store.caughtUp(a.position, b.position, wanted)).to.equal(true);
      expect(await store.caughtUp(a.position, c.position, wanted)).to.equal(false);
      expect(await store.caughtUp(a.position, b.position, { streamPrefixes: [`${cat}-`] })).to.equal(false);
      expect(await store.caughtUp(c.position, c.position, wanted)).to.equal(true);
      expectInvalidArgument(
        await rejection(store.caughtUp(a.position, c.position, { eventTypes: [''] })),
        'filter.eventTypes',
        '[""]',
      );
    });

    it('reports nothing held back from subscribers once what they were given is all there is', async () => {
      const sub = store.subscribeToAll({ fromPosition: 'start', filter: { streamPrefixes: [`${cat}-`] } });
      try {
        await store.append(stream(), [ev('Given')]);
        const it = sub[Symbol.asyncIterator]();
        const seen: string[] = [];
        for (;;) {
          const n = await it.next();
          if (n.done) break;
          seen.push(n.value.type);
          if (n.value.type === 'Given') break;
        }
        expect(seen).to.include('Given');
        const hold = await store.deliveryHold();
        expect(hold.heldEvents).to.equal(0);
        expect(hold.heldSeconds).to.equal(0);
      } finally {
        await sub.close();
      }
    });

    it('gives positions that travel as text and compare the same', async () => {
      const r = await store.append(stream(), [ev()]);
      const text = formatPosition(r.position);
      expect(text).to.match(/^\d+\/\d+$/);
      expect(comparePositions(parsePosition(text), r.position)).to.equal(0);
      const [read] = await store.readAll({ filter: { streamPrefixes: [`${cat}-`] } });
      expect(comparePositions(read!.position, r.position)).to.equal(0);
    });
  });

  describe('revisions past 2^53', () => {
    const big = 2n ** 53n + 7n;
    it('carries a bigint expected revision through a conflict without loss', async () => {
      const s = stream();
      await store.append(s, [ev()]);
      const err = await rejection(store.append(s, [ev()], { expectedRevision: big }));
      expect(err).to.be.instanceOf(WrongExpectedVersion);
      expect((err as WrongExpectedVersion).expected).to.equal(big);
      expect((err as WrongExpectedVersion).actual).to.equal(0n);
      expect(await store.readStream(s, { fromRevision: big })).to.deep.equal([]);
    });
  });

  describe('payloads', () => {
    it('round-trips unicode in data, metadata and types', async () => {
      const s = stream();
      const text = 'Grüße — 東京 ✓ 🚚🏗️ عربى ñ e\u0301 \u{1F600} "quoted" \\ back\nnew line\ttab';
      await store.append(s, [ev('Ünïcødé🚚', { text, [text]: text }, { actor: text })]);
      const [r] = await store.readStream(s);
      expect(r!.type).to.equal('Ünïcødé🚚');
      expect(r!.data).to.deep.equal({ text, [text]: text });
      expect(r!.metadata.actor).to.equal(text);
    });

    it('round-trips a 1 MB payload', async () => {
      const s = stream();
      const blob = 'x'.repeat(1024 * 1024);
      const data = { blob, rows: Array.from({ length: 1000 }, (_, i) => ({ i, s: `row-${i}` })) };
      await store.append(s, [ev('Big', data)]);
      const [r] = await store.readStream(s);
      expect((r!.data as typeof data).blob.length).to.equal(blob.length);
      expect(r!.data).to.deep.equal(data);
    });
  });

  describe('retention', () => {
    it('takes a maximum age for a stream, whose events stay readable meanwhile', async () => {
      const s = stream();
      await store.append(s, many(2));
      await store.setMaxAge(s, 90 * 86_400);
      expect(await store.readStream(s)).to.have.length(2);
      await store.append(s, many(1), { expectedRevision: 1n });
      expect(await store.readStream(s)).to.have.length(3);
    });
  });

  describe('subscriptions', () => {
    it('catches up on history, then delivers live events', async () => {
      const filter = { streamPrefixes: [`${cat}-`] };
      await store.append(stream(), many(5));
      const sub = store.subscribeToAll({ fromPosition: 'start', filter });
      const history = await take(sub, 5);
      expect(history).to.have.length(5);
      const r = await store.append(stream(), many(3));
      const live = await take(sub, 3);
      await sub.close();
      expect(live).to.have.length(3);
      expect(comparePositions(live[2]!.position, r.position)).to.equal(0);
      expectStrictlyIncreasing([...history, ...live]);
    });

    it('starts after a given position, or at the end', async () => {
      const filter = { streamPrefixes: [`${cat}-`] };
      const first = await store.append(stream(), many(3));
      await store.append(stream(), many(2));
      const fromPos = store.subscribeToAll({ fromPosition: first.position, filter });
      expect(await take(fromPos, 2)).to.have.length(2);
      await fromPos.close();

      const fromEnd = store.subscribeToAll({ fromPosition: 'end', filter });
      const pending = take(fromEnd, 1, 5_000);
      await new Promise((r) => setTimeout(r, 200));
      const live = ev('Live');
      await store.append(stream(), [live]);
      const got = await pending;
      await fromEnd.close();
      expect(got.map((e) => e.id)).to.deep.equal([live.id]);
    });

    it('delivers only the filtered event types', async () => {
      const sub = store.subscribeToAll({ filter: { streamPrefixes: [`${cat}-`], eventTypes: ['Wanted'] } });
      await store.append(stream(), [ev('Other'), ev('Wanted'), ev('Other'), ev('Wanted')]);
      const got = await take(sub, 2);
      await sub.close();
      expect(got.map((e) => e.type)).to.deep.equal(['Wanted', 'Wanted']);
    });

    it('marks checkpoints past skipped events, never ahead of a match it has not delivered', async function () {
      this.timeout(60_000);
      const others = async () => {
        for (let i = 0; i < 15; i++) await store.append(stream(), many(100, 'Other'));
      };
      await others();
      const first = await store.append(stream(), [ev('Wanted')]);
      await others();
      const second = await store.append(stream(), [ev('Wanted')]);
      await others();
      const sub = store.subscribeToAll({
        fromPosition: 'start',
        filter: { streamPrefixes: [`${cat}-`], eventTypes: ['Wanted'] },
      });
      const seen: { mark?: Position; event?: RecordedEvent }[] = [];
      const deadline = Date.now() + 30_000;
      for await (const x of sub.withCheckpoints()) {
        seen.push(isCheckpointMark(x) ? { mark: x.position } : { event: x });
        if (isCheckpointMark(x) && comparePositions(x.position, second.position) > 0) break;
        if (Date.now() > deadline) break;
      }
      await sub.close();
      const events = seen.flatMap((s) => (s.event ? [s.event] : []));
      expect(events.map((e) => e.position)).to.deep.equal([first.position, second.position]);
      const wanted = [first.position, second.position];
      seen.forEach((s, i) => {
        if (!s.mark) return;
        // Every match at or before a mark came before it.
        const deliveredBefore = seen.slice(0, i).filter((x) => x.event).length;
        expect(wanted.filter((p) => comparePositions(p, s.mark!) <= 0).length, `mark ${i}`).to.be.at.most(
          deliveredBefore,
        );
      });
      const marks = seen.flatMap((s) => (s.mark ? [s.mark] : []));
      expect(
        marks.some((m) => comparePositions(m, first.position) < 0),
        'a mark while skipping before the first match',
      ).to.equal(true);
      expect(comparePositions(marks[marks.length - 1]!, second.position)).to.equal(1);
    });

    it('sees every event of 8 concurrent writers exactly once, in strictly increasing position', async function () {
      this.timeout(120_000);
      const writers = 8;
      const perWriter = 2_000;
      const streams = Array.from({ length: 40 }, (_, i) => stream(`w${i}`));
      const sub = store.subscribeToAll({ fromPosition: 'start', filter: { streamPrefixes: [`${cat}-`] } });
      const got = collect(sub);
      const written: string[] = [];
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let i = 0; i < perWriter;) {
            const n = Math.min(perWriter - i, 1 + Math.floor(Math.random() * 3));
            const batch = many(n);
            await store.append(streams[Math.floor(Math.random() * streams.length)]!, batch);
            written.push(...batch.map((e) => e.id));
            i += n;
          }
        }),
      );
      const total = writers * perWriter;
      await until(() => got.events.length >= total, 60_000);
      await sub.close();
      await got.done;
      expect(got.error).to.equal(undefined);
      expect(got.events.length).to.equal(total);
      expect(new Set(got.events.map((e) => e.id)).size).to.equal(total);
      expect(new Set(written)).to.deep.equal(new Set(got.events.map((e) => e.id)));
      expectStrictlyIncreasing(got.events);
    });

    it('resumes after its connection is killed, with nothing lost or repeated', async function () {
      this.timeout(120_000);
      const sub = store.subscribeToAll({ fromPosition: 'start', filter: { streamPrefixes: [`${cat}-`] } });
      const got = collect(sub);
      const ids: string[] = [];
      for (let round = 0; round < 4; round++) {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            for (let i = 0; i < 50; i++) {
              const e = ev();
              for (;;) {
                try {
                  await store.append(stream(`k${i % 5}`), [e]);
                  break;
                } catch (err) {
                  // The writer's own connection may be killed too: retrying the same id is safe.
                  if (err instanceof WrongExpectedVersion || err instanceof DuplicateEventId) throw err;
                }
              }
              ids.push(e.id);
            }
          }),
        );
        await fx.killConnections();
      }
      await until(() => got.events.length >= ids.length, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      await sub.close();
      await got.done;
      expect(got.events.map((e) => e.id).sort()).to.deep.equal([...ids].sort());
      expectStrictlyIncreasing(got.events);
    });
  });
}
