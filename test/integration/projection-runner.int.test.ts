import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import type { EventData } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { formatPosition } from '../../src/eventstore/position.js';
import { type RebuildProgress, RebuildInProgress } from '../../src/projections/rebuild.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { until } from '../support/async.js';
import { eventLogProjector, tableExists } from '../support/projections.js';
import { freshDatabase, testLogger, uniquePrefix } from '../support/services.js';

const ev = (i = 0): EventData => ({ id: randomUUID(), type: 'Tested', data: { i } });
const evs = (n: number) => Array.from({ length: n }, (_, i) => ev(i));

describe('The projection runner', () => {
  let url: string;
  let knex: Knex;
  let store: PostgresEventStore;
  let prefix: string;
  const runners: ProjectionRunner[] = [];
  const runner = (
    opts: Partial<ConstructorParameters<typeof ProjectionRunner>[0]> &
      Pick<ConstructorParameters<typeof ProjectionRunner>[0], 'projectors'>,
  ) => {
    const r = new ProjectionRunner({ knex, store, logger: testLogger, batchSize: 50, ...opts });
    runners.push(r);
    return r;
  };
  const rows = (table = 'event_log_test') => knex(table).select<{ event_id: string; version: number }[]>();

  before(async () => {
    url = await freshDatabase('runner');
    knex = createKnex(url, 10);
    store = new PostgresEventStore({ databaseUrl: url, pollMs: 200 });
  });
  beforeEach(() => {
    prefix = uniquePrefix('p');
  });
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop();
    await knex.raw('drop view if exists event_log_test');
    for (const t of (
      await knex.raw<{ rows: { tablename: string }[] }>(
        "select tablename from pg_tables where tablename like 'event_log_test__g%'",
      )
    ).rows) {
      await knex.schema.dropTable(t.tablename);
    }
    await knex('projection_parked_events').del();
    await knex('projection_generations').del();
    await knex('projections').del();
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });

  it('stops promptly whenever stop() lands, even while a projector is still starting', async () => {
    // Nothing to project: a subscription opened too late would wait for events forever.
    const r = runner({ projectors: [eventLogProjector({ prefix })] });
    // A stop at each point of start-up: before, during and after the checkpoint reads that precede
    // subscribing (each turn of the event loop lets a query answer).
    for (let turns = 0; turns < 60; turns++) {
      r.start();
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
      const stopped = await Promise.race([
        r.stop().then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 2_000)),
      ]);
      expect(stopped, `stop() after ${turns} turns of the event loop`).to.equal(true);
      expect((await r.status())[0]!.state).to.equal('stopped');
    }
  });

  it('builds a first generation from history, then follows live events, and reports its lag', async () => {
    await store.append(`${prefix}-a`, evs(120));
    const r = runner({ projectors: [eventLogProjector({ prefix })] });
    r.start();
    expect(await r.idle()).to.equal(true);
    expect(await rows()).to.have.length(120);
    const last = await store.append(`${prefix}-b`, evs(3));
    await until(async () => (await rows()).length === 123);
    expect(await rows()).to.have.length(123);
    const [s] = await r.status();
    expect(s).to.include({ name: 'event_log_test', state: 'running', liveGeneration: 1, eventsBehind: 0 });
    expect(s!.checkpoint).to.equal(formatPosition(last.position));

    await r.stop();
    await store.append(`${prefix}-c`, evs(7));
    const [stopped] = await r.status();
    expect(stopped!.eventsBehind).to.equal(7);
    expect(stopped!.head).to.not.equal(stopped!.checkpoint);
  });

  it("commits its batches without waiting for the disk, rows and checkpoint together, while the log's appends wait", async () => {
    const seen: string[] = [];
    const base = eventLogProjector({ prefix });
    const projector = {
      ...base,
      async apply(...args: Parameters<typeof base.apply>) {
        seen.push(
          ((await args[0].raw(`select current_setting('synchronous_commit') as s`)) as { rows: { s: string }[] })
            .rows[0]!.s,
        );
        return base.apply(...args);
      },
    };
    await store.append(`${prefix}-a`, evs(3));
    const r = runner({ projectors: [projector] });
    r.start();
    expect(await r.idle()).to.equal(true);
    await store.append(`${prefix}-b`, evs(2));
    await until(async () => (await rows()).length === 5);
    expect(seen.length).to.be.at.least(2);
    expect(new Set(seen)).to.deep.equal(new Set(['off']));
    // Only the batch's own transaction: the pool's sessions, and so the appends, keep the server's setting.
    expect((await knex.raw(`select current_setting('synchronous_commit') as s`)).rows[0].s).to.equal('on');
  });

  it('moves its checkpoint past events it does not handle, so they are neither read again nor counted as lag', async () => {
    await store.append(`${prefix}-a`, evs(5));
    const r = runner({ projectors: [eventLogProjector({ prefix })], skipCheckpointMs: 0 });
    r.start();
    expect(await r.idle()).to.equal(true);
    const handled = (await r.status())[0]!.checkpoint;
    // Other streams' events, which the projector's filter skips.
    let last;
    for (let i = 0; i < 10; i++) last = await store.append(`other${prefix}-${i}`, evs(50));
    expect(
      await until(async () => (await r.status())[0]!.checkpoint === formatPosition(last!.position), 10_000),
    ).to.equal(true);
    const [s] = await r.status();
    expect(s!.checkpoint).to.not.equal(handled);
    expect(s!.eventsBehind).to.equal(0);
    expect(await rows()).to.have.length(5);
    // Still exactly the projector's own events once it sees more of them.
    await store.append(`${prefix}-b`, evs(2));
    await until(async () => (await rows()).length === 7);
    expect(await rows()).to.have.length(7);
  });

  it('stops a projector whose batch keeps failing for want of a connection, with nothing of the batch kept, and resumes exactly once', async () => {
    const events = evs(30);
    await store.append(`${prefix}-a`, events.slice(0, 10));
    const projector = eventLogProjector({ prefix });
    const r = runner({ projectors: [projector], maxAttempts: 2, batchSize: 100 });
    r.start();
    expect(await r.idle()).to.equal(true);
    const before = (await r.status())[0]!.checkpoint;

    projector.failOn.add(events[15]!.id);
    await store.append(`${prefix}-a`, events.slice(10));
    await until(async () => (await r.status())[0]!.state === 'failed');
    const [failed] = await r.status();
    expect(failed!.state).to.equal('failed');
    expect(failed!.lastError).to.match(/refuses event/);
    // The error names the batch: where it starts and ends, and the first event's type and stream.
    expect(failed!.lastError).to.match(
      /event_log_test \(generation 1\) failed on a batch of \d+ event\(s\) from \d+\/\d+ \(Tested in p[0-9a-f]+-a\) to \d+\/\d+/,
    );
    expect(failed!.checkpoint).to.equal(before);
    // Rows 10..14 were written before the throw, in the batch's transaction: none may remain.
    expect(await rows()).to.have.length(10);

    projector.failOn.clear();
    r.restart('event_log_test');
    expect(await r.idle()).to.equal(true);
    const all = await rows();
    expect(all).to.have.length(30);
    expect(new Set(all.map((x) => x.event_id)).size).to.equal(30);
  });

  for (const policy of ['stop', 'park'] as const) {
    it(`finds the event its projector's own code fails on in a batch, and ${policy === 'stop' ? 'stops on it' : 'parks it'}: every other event applied exactly once`, async () => {
      const events = evs(30);
      await store.append(`${prefix}-a`, events.slice(0, 10));
      const projector = eventLogProjector({ prefix, poison: true });
      const r = runner({
        projectors: [projector],
        batchSize: 100,
        poisonPolicy: { event_log_test: policy },
        stoppedPollMs: 50,
      });
      r.start();
      expect(await r.idle()).to.equal(true);
      projector.failOn.add(events[15]!.id);
      await store.append(`${prefix}-a`, events.slice(10));
      const ids = async () => (await knex('event_log_test').orderBy('revision').pluck('event_id')) as string[];
      if (policy === 'stop') {
        expect(await until(async () => (await r.status())[0]!.state === 'failed', 30_000)).to.equal(true);
        const [s] = await r.status();
        expect(s).to.include({ parked: 1, onPoison: 'stop' });
        expect(s!.lastError).to.match(/stopped at .*which it cannot apply: test projector refuses event/);
        // Everything before it, once; nothing after it.
        expect(await ids()).to.deep.equal(events.slice(0, 15).map((e) => e.id));
        expect(s!.checkpoint).to.equal(formatPosition((await store.readStream(`${prefix}-a`))[14]!.position));
        projector.failOn.clear();
        r.restart('event_log_test');
        expect(await until(async () => (await rows()).length === 30, 30_000)).to.equal(true);
        expect(await ids()).to.deep.equal(events.map((e) => e.id));
        expect((await r.status())[0]).to.include({ state: 'running', parked: 0 });
      } else {
        expect(await until(async () => (await rows()).length === 29, 30_000)).to.equal(true);
        expect(await ids()).to.deep.equal(events.filter((_, i) => i !== 15).map((e) => e.id));
        expect((await r.status())[0]).to.include({ state: 'running', parked: 1 });
        const parked = await r.parked.list('event_log_test', { limit: 10, offset: 0 });
        expect(parked.events.map((e) => [e.eventId, e.status])).to.deep.equal([[events[15]!.id, 'parked']]);
      }
    });
  }

  it('applies a batch once even when two runners follow the same projector', async () => {
    await store.append(`${prefix}-a`, evs(200));
    const a = runner({ projectors: [eventLogProjector({ prefix })], batchSize: 7 });
    const b = runner({ projectors: [eventLogProjector({ prefix })], batchSize: 13 });
    a.start();
    b.start();
    await store.append(`${prefix}-b`, evs(100));
    expect(await a.idle()).to.equal(true);
    const all = await rows();
    expect(all).to.have.length(300);
    expect(new Set(all.map((x) => x.event_id)).size).to.equal(300);
  });

  it('rebuilds beside the live generation while writes go on, then switches atomically', async () => {
    await store.append(`${prefix}-a`, evs(300));
    const live = runner({ projectors: [eventLogProjector({ prefix })] });
    live.start();
    expect(await live.idle()).to.equal(true);

    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        await store.append(`${prefix}-w${n++ % 3}`, evs(5));
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const progress: RebuildProgress[] = [];
    const rebuilder = runner({ projectors: [eventLogProjector({ prefix })], batchSize: 25 });
    const result = await rebuilder.rebuild('event_log_test', { onProgress: (p) => progress.push(p) });
    writing = false;
    await writer;

    expect(result.generation).to.equal(2);
    expect(progress[0]!.phase).to.equal('building');
    expect(progress[0]!.total).to.be.at.least(300);
    expect(progress.at(-1)!.phase).to.equal('done');
    expect(progress.map((p) => p.applied)).to.deep.equal([...progress.map((p) => p.applied)].sort((x, y) => x - y));
    expect(await tableExists(knex, 'event_log_test__g1')).to.equal(false);

    // The live runner follows the new generation; the view serves every event exactly once.
    await store.append(`${prefix}-after`, evs(4));
    expect(await live.idle()).to.equal(true);
    const total = (await store.readAll({ filter: { streamPrefixes: [`${prefix}-`] } })).length;
    const all = await rows();
    expect(all).to.have.length(total);
    expect(new Set(all.map((x) => x.event_id)).size).to.equal(total);
    const [s] = await live.status();
    expect(s).to.include({ liveGeneration: 2, eventsBehind: 0 });
  });

  it('leaves the live generation untouched when a rebuild dies, and resumes that rebuild', async () => {
    await store.append(`${prefix}-a`, evs(200));
    const live = runner({ projectors: [eventLogProjector({ prefix })] });
    live.start();
    expect(await live.idle()).to.equal(true);
    await live.stop();

    const dying = eventLogProjector({ prefix });
    const all = await store.readAll({ filter: { streamPrefixes: [`${prefix}-`] } });
    dying.failOn.add(all[120]!.id);
    const first = runner({ projectors: [dying], batchSize: 50 });
    let err: unknown;
    await first.rebuild('event_log_test').catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/refuses event/);
    expect(await rows()).to.have.length(200);
    const building = (await first.checkpoints.all()).find((g) => g.status === 'building')!;
    expect(building.generation).to.equal(2);
    expect(building.eventsApplied).to.equal(100n);
    expect(await knex('event_log_test__g2').count<{ count: string }[]>('* as count')).to.deep.equal([{ count: '100' }]);

    const second = runner({ projectors: [eventLogProjector({ prefix })], batchSize: 50 });
    const progress: RebuildProgress[] = [];
    const result = await second.rebuild('event_log_test', { onProgress: (p) => progress.push(p) });
    expect(result.generation).to.equal(2);
    expect(progress[0]!.applied).to.equal(100);
    const after = await rows();
    expect(after).to.have.length(200);
    expect(new Set(after.map((x) => x.event_id)).size).to.equal(200);
  });

  it('refuses a second rebuild of the same projector while one runs', async () => {
    await store.append(`${prefix}-a`, evs(400));
    const a = runner({ projectors: [eventLogProjector({ prefix })], batchSize: 10 });
    const b = runner({ projectors: [eventLogProjector({ prefix })] });
    const first = a.rebuild('event_log_test');
    await until(async () => (await a.checkpoints.all()).some((g) => g.status === 'building'));
    let err: unknown;
    await b.rebuild('event_log_test').catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(RebuildInProgress);
    await first;
  });

  it('rebuilds by itself when the projector version changes', async () => {
    await store.append(`${prefix}-a`, evs(50));
    const v1 = runner({ projectors: [eventLogProjector({ prefix, version: 1 })] });
    v1.start();
    expect(await v1.idle()).to.equal(true);
    await v1.stop();

    const v2 = runner({ projectors: [eventLogProjector({ prefix, version: 2 })] });
    v2.start();
    expect(await v2.idle(20_000)).to.equal(true);
    const all = await rows();
    expect(all).to.have.length(50);
    expect(new Set(all.map((x) => x.version))).to.deep.equal(new Set([2]));
    const [s] = await v2.status();
    expect(s).to.include({ liveVersion: 2, liveGeneration: 2 });
  });
});
