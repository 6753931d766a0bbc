import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { DuplicateEventId, InvalidEvent } from '../../src/eventstore/errors.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { comparePositions, START } from '../../src/eventstore/position.js';
import type { CheckpointMark, RecordedEvent } from '../../src/eventstore/types.js';
import { take, until } from '../support/async.js';
import { freshDatabase } from '../support/services.js';
import { eventStoreContract } from './eventstore.contract.js';

async function killBackends(databaseUrl: string): Promise<number> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    const res = await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    return res.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

describe('EventStore contract on Postgres', () => {
  let url: string;
  eventStoreContract(async () => {
    url = await freshDatabase('contract_pg');
    const store = new PostgresEventStore({ databaseUrl: url, poolMax: 10, pollMs: 500 });
    return {
      store,
      killConnections: async () => {
        expect(await killBackends(url)).to.be.greaterThan(0);
      },
      close: () => store.close(),
    };
  });
});

describe('Postgres event store specifics', () => {
  let url: string;
  let store: PostgresEventStore;
  before(async () => {
    url = await freshDatabase('pg_specific');
    store = new PostgresEventStore({ databaseUrl: url });
  });
  after(() => store.close());

  it('keeps revisions past 2^53 exact', async () => {
    const big = 2n ** 53n + 5n;
    const s = `big-${randomUUID()}`;
    // Seed a stream whose history was (notionally) that long: the revision counter and its last event.
    await store.pool.query('insert into es_streams values ($1, $2::bigint)', [s, big.toString()]);
    await store.pool.query(
      `insert into es_events (tx_id, stream_id, revision, id, type, data, metadata)
       values (pg_current_xact_id(), $1, $2::bigint, gen_random_uuid(), 'Seed', '{}', '{}')`,
      [s, big.toString()],
    );
    const r = await store.append(s, [{ id: randomUUID(), type: 'Next', data: {} }], { expectedRevision: big });
    expect(r.nextExpectedRevision).to.equal(big + 1n);
    const events = await store.readStream(s, { fromRevision: big });
    expect(events.map((e) => e.revision)).to.deep.equal([big, big + 1n]);
    const back = await store.readStream(s, { direction: 'backwards', maxCount: 1 });
    expect(back[0]!.revision).to.equal(2n ** 53n + 6n);
  });

  it('wakes subscribers of another process by NOTIFY, without waiting for the poll', async () => {
    const other = new PostgresEventStore({ databaseUrl: url, pollMs: 60_000 });
    try {
      const prefix = `notify${randomUUID().slice(0, 8)}-`;
      const sub = other.subscribeToAll({ fromPosition: 'end', filter: { streamPrefixes: [prefix] } });
      // Its poll comes once a minute: what arrives well before that was woken by the notification.
      const got = take(sub, 2, 30_000);
      await other.notifier.start();
      await new Promise((r) => setTimeout(r, 200));
      await store.append(`${prefix}1`, [{ id: randomUUID(), type: 'T', data: {} }]);
      await store.append(`${prefix}2`, [{ id: randomUUID(), type: 'T', data: {} }]);
      expect(await got).to.have.length(2);
      await sub.close();
    } finally {
      await other.close();
    }
  });

  it('tells onCaughtUpChange listeners of its own appends, failed ones, and another process’s, until they stop listening', async () => {
    const other = new PostgresEventStore({ databaseUrl: url, pollMs: 60_000 });
    const heard: string[] = [];
    let stage = '';
    const stop = other.onCaughtUpChange(() => heard.push(stage));
    try {
      await other.notifier.start();
      stage = 'own';
      const s = `heard-${randomUUID()}`;
      await other.append(s, [{ id: randomUUID(), type: 'T', data: {} }]);
      expect(heard).to.include('own');
      // Its own NOTIFY comes back to it too: once heard, nothing more is on its way.
      expect(await until(() => heard.filter((x) => x === 'own').length >= 2, 30_000)).to.equal(true);
      stage = 'failed';
      await other
        .append(s, [{ id: randomUUID(), type: 'T', data: {} }], { expectedRevision: 'no_stream' })
        .catch(() => {});
      expect(heard).to.include('failed');
      stage = 'other process';
      await store.append(`heard-${randomUUID()}`, [{ id: randomUUID(), type: 'T', data: {} }]);
      expect(await until(() => heard.includes('other process'), 30_000)).to.equal(true);
      stop();
      stage = 'stopped';
      await other.append(s, [{ id: randomUUID(), type: 'T', data: {} }]);
      expect(heard).to.not.include('stopped');
    } finally {
      stop();
      await other.close();
    }
  });

  it('moves a filtered subscription past the events it skipped, instead of scanning them again', async () => {
    const prefix = `skip${randomUUID().slice(0, 8)}-`;
    // A minute's poll: a mark that comes before it came from the skipped events' own wake-up.
    const store = new PostgresEventStore({ databaseUrl: url, pollMs: 60_000 });
    const sub = store.subscribeToAll({
      fromPosition: 'end',
      filter: { streamPrefixes: [prefix], eventTypes: ['Wanted'] },
    });
    const it = sub.withCheckpoints()[Symbol.asyncIterator]();
    try {
      const first = it.next();
      await new Promise((r) => setTimeout(r, 100));
      const a = { id: randomUUID(), type: 'Wanted', data: {} };
      await store.append(`${prefix}1`, [a]);
      expect(((await first).value as RecordedEvent).id).to.equal(a.id);
      const skipped = await store.append(
        `${prefix}2`,
        Array.from({ length: 50 }, () => ({ id: randomUUID(), type: 'Other', data: {} })),
      );
      // Next comes a mark at (or past) the last skipped event, without waiting for the poll.
      const mark = (await it.next()).value as CheckpointMark;
      expect(mark.kind).to.equal('checkpoint');
      expect(comparePositions(mark.position, skipped.position)).to.be.at.least(0);
      const wanted = { id: randomUUID(), type: 'Wanted', data: {} };
      await store.append(`${prefix}3`, [wanted]);
      let next = (await it.next()).value as RecordedEvent | CheckpointMark;
      while ('kind' in next) next = (await it.next()).value as RecordedEvent | CheckpointMark;
      expect(next.id).to.equal(wanted.id);
    } finally {
      await sub.close();
      await store.close();
    }
  });

  it('serves every live subscription from one shared read of the newest events, not a query each', async () => {
    const prefix = `tail${randomUUID().slice(0, 8)}-`;
    const subs = [
      ...Array.from({ length: 10 }, (_, i) =>
        store.subscribeToAll({ fromPosition: 'end', filter: { streamPrefixes: [`${prefix}${i % 2}`] } }),
      ),
      store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: ['TailOdd'] } }),
      store.subscribeToAll({ fromPosition: 'end' }),
    ];
    const wanted = subs.map((_, i) => (i < 10 ? 10 : i === 10 ? 10 : 20));
    const got = subs.map((sub, i) => take(sub, wanted[i]!, 10_000));
    // Let every subscription catch up and go live before counting.
    await new Promise((r) => setTimeout(r, 300));
    let reads = 0;
    const query = store.pool.query.bind(store.pool);
    store.pool.query = ((config: string | { text: string }, ...rest: unknown[]) => {
      if (/from es_events/.test(typeof config === 'string' ? config : config.text)) reads++;
      return (query as (...a: unknown[]) => unknown)(config, ...rest);
    }) as typeof store.pool.query;
    try {
      for (let k = 0; k < 20; k++) {
        await store.append(`${prefix}${k % 2}`, [
          { id: randomUUID(), type: k % 2 ? 'TailOdd' : 'TailEven', data: { k } },
        ]);
        await new Promise((r) => setTimeout(r, 20));
      }
      const results = await Promise.all(got);
      results.forEach((events, i) => expect(events, `subscription ${i}`).to.have.length(wanted[i]!));
      expect(results[0]!.map((e) => (e.data as { k: number }).k)).to.deep.equal([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      expect(results[10]!.every((e) => e.type === 'TailOdd')).to.equal(true);
      // One read per append (and a few look-agains), where a query per subscription would be 12 × 20.
      expect(reads).to.be.within(1, 40);
    } finally {
      store.pool.query = query;
      await Promise.all(subs.map((s) => s.close()));
    }
  });

  it('delivers a live event held back by an older open append soon after that one ends, with no notification', async () => {
    const prefix = `held${randomUUID().slice(0, 8)}-`;
    // A minute's poll, and nothing notifies once the older append ends: delivery before the poll
    // came from looking again, soon.
    const store = new PostgresEventStore({ databaseUrl: url, pollMs: 60_000 });
    // From the start: only this test's streams match, so nothing depends on when it begins reading.
    const sub = store.subscribeToAll({ fromPosition: 'start', filter: { streamPrefixes: [prefix] } });
    const got = take(sub, 2, 30_000);
    const older = new pg.Client({ connectionString: url });
    await older.connect();
    try {
      await older.query('begin');
      await older.query("select * from es_append(array[$1], array['any'], $2::jsonb)", [
        `${prefix}older`,
        JSON.stringify([[{ i: randomUUID(), t: 'Older', d: {} }]]),
      ]);
      await store.append(`${prefix}1`, [{ id: randomUUID(), type: 'Newer', data: {} }]);
      // Not before the older append ends: it could still commit below it.
      expect(await store.readAll({ filter: { streamPrefixes: [prefix] } })).to.deep.equal([]);
      await older.query('commit');
      expect((await got).map((e) => e.type)).to.deep.equal(['Older', 'Newer']);
    } finally {
      await older.end();
      await sub.close();
      await store.close();
    }
  });

  for (const where of ['another table of this database', 'another database of the cluster'] as const) {
    it(`is not held back by a transaction that writes in ${where} and stays open`, async function () {
      this.timeout(60_000);
      const prefix = `free${randomUUID().slice(0, 8)}-`;
      // A minute's poll: delivery comes from the notification and reading below the stable bound.
      const store = new PostgresEventStore({ databaseUrl: url, pollMs: 60_000 });
      const sub = store.subscribeToAll({ fromPosition: 'start', filter: { streamPrefixes: [prefix] } });
      const elsewhere = where === 'another table of this database' ? url : await freshDatabase('holdback_other');
      const writer = new pg.Client({ connectionString: elsewhere });
      await writer.connect();
      try {
        await writer.query(
          'create table if not exists report_rows (id uuid primary key, at timestamptz not null default now())',
        );
        await writer.query('begin');
        await writer.query('insert into report_rows (id) values ($1)', [randomUUID()]);
        const xid = (await writer.query<{ x: string }>('select pg_current_xact_id()::text as x')).rows[0]!.x;
        // Every event appended while the writing transaction stays open is delivered while it is open.
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const id = randomUUID();
          ids.push(id);
          await store.append(`${prefix}${i}`, [{ id, type: 'T', data: {} }]);
        }
        const got = await take(sub, 5, 30_000);
        expect(got.map((e) => e.id)).to.deep.equal(ids);
        const still = await writer.query<{ x: string }>('select pg_current_xact_id()::text as x');
        expect(still.rows[0]!.x, 'the writing transaction was open throughout').to.equal(xid);
        await writer.query('rollback');
      } finally {
        await writer.end();
        await sub.close();
        await store.close();
      }
    });
  }

  it('refuses an append in a transaction that wrote before it, which readers could otherwise miss', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        'create table if not exists report_rows (id uuid primary key, at timestamptz not null default now())',
      );
      await client.query('begin');
      await client.query('insert into report_rows (id) values ($1)', [randomUUID()]);
      const err = await client
        .query("select * from es_append(array['refused-1'], array['any'], $1::jsonb)", [
          JSON.stringify([[{ i: randomUUID(), t: 'T', d: {} }]]),
        ])
        .then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
      expect(err?.code).to.equal('55000');
      expect(err?.message).to.match(/first write of its transaction/);
      await client.query('rollback');
      // Two appends in one transaction are fine: the first announced it.
      await client.query('begin');
      for (const n of [1, 2]) {
        await client.query("select * from es_append(array[$1], array['any'], $2::jsonb)", [
          `twice-${randomUUID()}`,
          JSON.stringify([[{ i: randomUUID(), t: `T${n}`, d: {} }]]),
        ]);
      }
      await client.query('commit');
    } finally {
      await client.end();
    }
  });

  it('lets a subscription that fell behind the tail read the table, then rejoin it, missing and repeating nothing', async () => {
    const small = new PostgresEventStore({ databaseUrl: url, tailCapacity: 25, subscriptionBatch: 10 });
    try {
      const prefix = `behind${randomUUID().slice(0, 8)}-`;
      const fast = small.subscribeToAll({ fromPosition: 'end', filter: { streamPrefixes: [prefix] } });
      const slow = small.subscribeToAll({ fromPosition: 'end', filter: { streamPrefixes: [prefix] } });
      const fastGot = take(fast, 300, 20_000);
      const it = slow[Symbol.asyncIterator]();
      await new Promise((r) => setTimeout(r, 200));
      const ids: string[] = [];
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let k = 0; k < 15; k++) {
          const events = Array.from({ length: 5 }, () => ({ id: randomUUID(), type: 'T', data: {} }));
          await small.append(`${prefix}${w}`, events);
          ids.push(...events.map((e) => e.id));
        }
      });
      // The slow one reads one event, then sleeps while far more than the tail holds are written.
      const first = await it.next();
      await Promise.all(writers);
      const slowGot = [first.value!];
      while (slowGot.length < 300) {
        const n = await it.next();
        if (n.done) break;
        slowGot.push(n.value);
      }
      for (const events of [await fastGot, slowGot]) {
        expect(events).to.have.length(300);
        expect(new Set(events.map((e) => e.id)).size).to.equal(300);
        expect([...events.map((e) => e.id)].sort()).to.deep.equal([...ids].sort());
        for (let i = 1; i < events.length; i++)
          expect(comparePositions(events[i - 1]!.position, events[i]!.position)).to.equal(-1);
      }
      await Promise.all([fast.close(), slow.close()]);
    } finally {
      await small.close();
    }
  });

  it('shares one statement between small concurrent appends, and sends large ones alone', async () => {
    const batches: number[] = [];
    const query = store.pool.query.bind(store.pool);
    store.pool.query = ((config: { name?: string; values?: unknown[] }) => {
      if (config?.name === 'es_append') batches.push((config.values![0] as string[]).length);
      return query(config as never);
    }) as typeof store.pool.query;
    try {
      const one = () => [{ id: randomUUID(), type: 'T', data: {} }];
      const hundred = () => Array.from({ length: 100 }, () => ({ id: randomUUID(), type: 'T', data: {} }));
      await Promise.all(Array.from({ length: 8 }, (_, i) => store.append(`small-${i}-${randomUUID()}`, one())));
      expect(batches).to.deep.equal([8]);
      batches.length = 0;
      await Promise.all(Array.from({ length: 4 }, (_, i) => store.append(`large-${i}-${randomUUID()}`, hundred())));
      expect(batches).to.deep.equal([1, 1, 1, 1]);
    } finally {
      store.pool.query = query;
    }
  });

  it('reports as scanned the last event of its window, by numeric position', async () => {
    // An event whose transaction id sorts last as text ("99" > "1234") but is among the oldest.
    await store.pool.query(
      `insert into es_events (tx_id, stream_id, revision, id, type, data, metadata)
       values ('99'::xid8, $1, 0, gen_random_uuid(), 'T', '{}', '{}')`,
      [`old99-${randomUUID()}`],
    );
    for (let i = 0; i < 30; i++)
      await store.append(`scan-${randomUUID()}`, [{ id: randomUUID(), type: 'T', data: {} }]);
    const head = (await store.headPosition())!;
    // A filter that matches nothing scans a window from the start, which holds the tx-99 event.
    const page = await store.scanPage(START, 10, { eventTypes: ['NothingIsOfThisType'] });
    expect(page.events).to.deep.equal([]);
    expect(page.more).to.equal(true);
    const all = await store.readAll({ maxCount: 10_000 });
    const at = all.findIndex((e) => comparePositions(e.position, page.scannedTo!) === 0);
    expect(at, 'scannedTo is a stored event').to.be.greaterThan(0);
    expect(
      all.slice(0, at).some((e) => e.position.commit === 99n),
      'the tx-99 event lies inside the window',
    ).to.equal(true);
    // Scanning on from there reaches the head, and says history ends there.
    let from = page.scannedTo!;
    let last = page;
    while (last.more) {
      last = await store.scanPage(from, 10, { eventTypes: ['NothingIsOfThisType'] });
      from = last.scannedTo ?? from;
    }
    expect(from).to.deep.equal(head);
  });

  it('deletes old events of one stream category in batches, keeping the rest and the revisions', async () => {
    const cat = `trk${randomUUID().slice(0, 6)}-`;
    const old = `${cat}a`;
    const other = `keep${randomUUID().slice(0, 6)}-a`;
    await store.append(
      old,
      Array.from({ length: 10 }, () => ({ id: randomUUID(), type: 'Ping', data: {} })),
    );
    await store.append(other, [{ id: randomUUID(), type: 'Ping', data: {} }]);
    // Age them (created_at is the server's clock at append).
    await store.pool.query(`update es_events set created_at = now() - interval '40 days' where stream_id in ($1, $2)`, [
      old,
      other,
    ]);
    await store.append(old, [{ id: randomUUID(), type: 'Ping', data: {} }]);
    const deleted = await store.deleteOlderThan({
      streamPrefix: cat,
      before: new Date(Date.now() - 30 * 86_400_000),
      batchSize: 3,
    });
    expect(deleted).to.equal(10);
    expect((await store.readStream(old)).map((e) => e.revision)).to.deep.equal([10n]);
    expect(await store.readStream(other)).to.have.length(1);
    // The stream goes on from its revision; nothing is reused.
    const r = await store.append(old, [{ id: randomUUID(), type: 'Ping', data: {} }], { expectedRevision: 10n });
    expect(r.nextExpectedRevision).to.equal(11n);
    const bad = await store
      .deleteOlderThan({ streamPrefix: "x'; drop table es_events; --", before: new Date() })
      .catch((e: unknown) => e);
    expect(bad).to.be.instanceOf(RangeError);
  });

  it('orders positions as numbers, not text, across a digit boundary of transaction ids', async () => {
    const prefix = `digits${randomUUID().slice(0, 8)}-`;
    for (const tx of ['10', '9', '100', '99']) {
      await store.pool.query(
        `insert into es_events (tx_id, stream_id, revision, id, type, data, metadata)
         values ($1::xid8, $2, 0, gen_random_uuid(), 'T', '{}', '{}')`,
        [tx, `${prefix}${tx}`],
      );
    }
    const forwards = await store.readAll({ filter: { streamPrefixes: [prefix] } });
    expect(forwards.map((e) => e.position.commit)).to.deep.equal([9n, 10n, 99n, 100n]);
    const paged = await store.readAll({ filter: { streamPrefixes: [prefix] }, fromPosition: forwards[1]!.position });
    expect(paged.map((e) => e.position.commit)).to.deep.equal([99n, 100n]);
    const backwards = await store.readAll({ filter: { streamPrefixes: [prefix] }, direction: 'backwards' });
    expect(backwards.map((e) => e.position.commit)).to.deep.equal([100n, 99n, 10n, 9n]);
  });

  it('refuses an event id already stored in another stream', async () => {
    const id = randomUUID();
    await store.append(`a-${randomUUID()}`, [{ id, type: 'T', data: {} }]);
    const other = `b-${randomUUID()}`;
    let err: unknown;
    await store.append(other, [{ id, type: 'T', data: {} }]).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(DuplicateEventId);
    expect(await store.readStream(other)).to.deep.equal([]);
  });

  it('refuses a reused id further into an append, failing nothing else sent with it', async () => {
    const id = randomUUID();
    await store.append(`a-${randomUUID()}`, [{ id, type: 'T', data: {} }]);
    const bad = `b-${randomUUID()}`;
    const good = `g-${randomUUID()}`;
    const [rb, rg] = await Promise.allSettled([
      store.append(bad, [
        { id: randomUUID(), type: 'T', data: {} },
        { id, type: 'T', data: {} },
      ]),
      store.append(good, [{ id: randomUUID(), type: 'T', data: {} }]),
    ]);
    expect(rb.status).to.equal('rejected');
    expect((rb as PromiseRejectedResult).reason).to.be.instanceOf(DuplicateEventId);
    expect(rg.status).to.equal('fulfilled');
    expect(await store.readStream(bad)).to.deep.equal([]);
  });

  it('names the id that is stored when it comes after a new one, and fails only its own append of a shared statement', async () => {
    const s = `dup-${randomUUID()}`;
    const stored = randomUUID();
    await store.append(s, [{ id: stored, type: 'T', data: {} }]);
    const good = `g-${randomUUID()}`;
    // Sent together: the stored id first (es_append's checked answer), then after a new id (the insert's).
    const [first, later, rg] = await Promise.allSettled([
      store.append(s, [
        { id: stored, type: 'T', data: {} },
        { id: randomUUID(), type: 'T', data: {} },
      ]),
      store.append(s, [
        { id: randomUUID(), type: 'T', data: {} },
        { id: stored, type: 'T', data: {} },
      ]),
      store.append(good, [{ id: randomUUID(), type: 'T', data: {} }]),
    ]);
    for (const r of [first, later]) {
      expect(r.status).to.equal('rejected');
      const err = (r as PromiseRejectedResult).reason as DuplicateEventId;
      expect(err).to.be.instanceOf(DuplicateEventId);
      expect(err.eventId).to.equal(stored);
    }
    expect(rg.status).to.equal('fulfilled');
    expect((await store.readStream(s)).map((e) => e.id)).to.deep.equal([stored]);
  });

  it('refuses with a clear error what jsonb cannot hold, and what is not JSON', async () => {
    let err: unknown;
    await store
      .append(`n-${randomUUID()}`, [{ id: randomUUID(), type: 'T', data: { s: 'nul\u0000' } }])
      .catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(InvalidEvent);
    err = undefined;
    await store
      .append(`n-${randomUUID()}`, [{ id: randomUUID(), type: 'T', data: { n: 1n } }])
      .catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(InvalidEvent);
    err = undefined;
    await store.append('no category', [{ id: randomUUID(), type: 'T', data: {} }]).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(InvalidEvent);
  });

  it('does not show a committed event to readers of $all while an older transaction is still in flight', async () => {
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      // The older transaction takes a lower xid (and would hold a lower position) and stays open.
      await blocker.query("select * from es_append(array['late-1'], array['any'], $1::jsonb)", [
        JSON.stringify([[{ i: randomUUID(), t: 'Late', d: {}, m: {} }]]),
      ]);
      const early = await store.append(`early-${randomUUID()}`, [{ id: randomUUID(), type: 'Early', data: {} }]);
      const visible = await store.readAll({ filter: { streamPrefixes: ['early-', 'late-'] } });
      expect(visible.map((e) => e.type)).to.not.include('Early');
      await blocker.query('commit');
      const after = await store.readAll({ filter: { streamPrefixes: ['early-', 'late-'] } });
      expect(after.map((e) => e.type)).to.deep.equal(['Late', 'Early']);
      expect(after[1]!.position).to.deep.equal(early.position);
    } finally {
      await blocker.end();
    }
  });
});
