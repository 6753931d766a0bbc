import { randomUUID } from 'node:crypto';
import { formatPosition } from '../../src/eventstore/position.js';
import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { createRedis, type Redis } from '../../src/infra/redis.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import type { AtLeastOnceProjector } from '../../src/projections/types.js';
import { until } from '../support/async.js';
import { freshDatabase, testLogger, testServices, uniquePrefix } from '../support/services.js';

// Writes a stream's last revision only when it is newer than the stored one, atomically, so a
// replayed batch or a second process cannot move it backwards.
const SET_IF_NEWER = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0`;

function lastRevisionProjector(
  redis: Redis,
  prefix: string,
  calls: { applied: number; retired: number[] },
): AtLeastOnceProjector {
  const key = (generation: number) => `last-revision:g${generation}`;
  return {
    kind: 'at-least-once',
    name: 'last_revision_test',
    version: 1,
    eventTypes: 'all',
    streamPrefixes: [`${prefix}-`],
    async setup(generation) {
      await redis.del(key(generation));
    },
    async apply(events: readonly RecordedEvent[], generation) {
      calls.applied += events.length;
      const pipeline = redis.pipeline();
      for (const e of events) pipeline.eval(SET_IF_NEWER, 1, key(generation), e.streamId, e.revision.toString());
      await pipeline.exec();
    },
    async retire(generation) {
      calls.retired.push(generation);
      await redis.del(key(generation));
    },
  };
}

describe('An at-least-once projector (Redis)', () => {
  let knex: Knex;
  let redis: Redis;
  let store: PostgresEventStore;
  let prefix: string;

  before(async () => {
    const url = await freshDatabase('alo');
    knex = createKnex(url, 4);
    store = new PostgresEventStore({ databaseUrl: url, pollMs: 200 });
    redis = createRedis((await testServices()).redisUrl, `t:${randomUUID()}:`);
    prefix = uniquePrefix('r');
  });
  after(async () => {
    await store.close();
    redis.disconnect();
    await knex.destroy();
  });

  it('follows the log, stays right when batches replay, and rebuilds into a new generation', async () => {
    const calls = { applied: 0, retired: [] as number[] };
    const projector = lastRevisionProjector(redis, prefix, calls);
    for (let i = 0; i < 5; i++) {
      await store.append(
        `${prefix}-${i}`,
        Array.from({ length: 3 + i }, () => ({ id: randomUUID(), type: 'T', data: {} })),
      );
    }
    const runner = new ProjectionRunner({ knex, store, projectors: [projector], logger: testLogger, batchSize: 4 });
    runner.start();
    expect(await runner.idle()).to.equal(true);
    expect(await redis.hgetall('last-revision:g1')).to.deep.equal({
      [`${prefix}-0`]: '2',
      [`${prefix}-1`]: '3',
      [`${prefix}-2`]: '4',
      [`${prefix}-3`]: '5',
      [`${prefix}-4`]: '6',
    });

    // A replay (as after a crash between the side effects and the checkpoint) changes nothing.
    const history = await store.readAll({ filter: { streamPrefixes: [`${prefix}-`] } });
    await projector.apply(history.slice(0, 10), 1);
    expect(await redis.hget('last-revision:g1', `${prefix}-4`)).to.equal('6');

    await store.append(`${prefix}-0`, [{ id: randomUUID(), type: 'T', data: {} }]);
    await until(async () => (await redis.hget('last-revision:g1', `${prefix}-0`)) === '3');
    expect(await redis.hget('last-revision:g1', `${prefix}-0`)).to.equal('3');

    const result = await runner.rebuild('last_revision_test');
    expect(result.generation).to.equal(2);
    expect(calls.retired).to.deep.equal([1]);
    expect(await redis.exists('last-revision:g1')).to.equal(0);
    expect(await redis.hget('last-revision:g2', `${prefix}-0`)).to.equal('3');

    await store.append(`${prefix}-9`, [{ id: randomUUID(), type: 'T', data: {} }]);
    await until(async () => (await redis.hget('last-revision:g2', `${prefix}-9`)) === '0');
    expect(await redis.hget('last-revision:g2', `${prefix}-9`)).to.equal('0');
    const [status] = await runner.status();
    expect(status).to.include({ liveGeneration: 2, eventsBehind: 0, state: 'running' });
    await runner.stop();
  });

  it('with one storage for every generation, writes and tells dashboards ahead of its checkpoint, and follows a rebuild', async () => {
    const streams = uniquePrefix('w');
    const applied: string[] = [];
    const told: string[] = [];
    // No setup nor retire: nothing of its storage belongs to a generation.
    const projector: AtLeastOnceProjector = {
      kind: 'at-least-once',
      name: 'write_ahead_test',
      version: 1,
      eventTypes: 'all',
      streamPrefixes: [`${streams}-`],
      async apply(events) {
        applied.push(...events.map((e) => e.id));
      },
      async afterCommit(events) {
        told.push(...events.map((e) => e.id));
      },
    };
    const append = async (n = 1) => {
      const events = Array.from({ length: n }, () => ({ id: randomUUID(), type: 'T', data: {} }));
      const r = await store.append(`${streams}-${randomUUID()}`, events);
      return { ids: events.map((e) => e.id), position: formatPosition(r.position) };
    };
    const checkpoint = async () => (await runner.status()).find((s) => s.name === projector.name)?.checkpoint;
    const first = await append(3);
    const runner = new ProjectionRunner({ knex, store, projectors: [projector], logger: testLogger, batchSize: 4 });
    runner.start();
    await until(async () => (await checkpoint()) === first.position);
    expect(applied).to.deep.equal(first.ids);

    // The checkpoint's row held by another transaction (as a rebuild's switch holds it): the batch is
    // written and told all the same, and its checkpoint follows once the row is free.
    const holder = await knex.transaction();
    try {
      await holder.raw('select 1 from projection_generations where name = ? for update', [projector.name]);
      const next = await append(2);
      await until(() => next.ids.every((id) => told.includes(id)));
      expect(applied).to.include.members(next.ids);
      expect(await checkpoint()).to.equal(first.position);
      await holder.commit();
      await until(async () => (await checkpoint()) === next.position);
    } finally {
      if (!holder.isCompleted()) await holder.rollback();
    }

    // A rebuild's switch while the live loop writes: the loop follows the new generation, nothing is missed.
    const during: Promise<{ ids: string[] }>[] = [];
    const writing = (async () => {
      for (let i = 0; i < 20; i++) during.push(append());
      await Promise.all(during);
    })();
    const result = await runner.rebuild(projector.name);
    await writing;
    const last = await append();
    await until(async () => (await checkpoint()) === last.position);
    const all = [...(await Promise.all(during)).flatMap((d) => d.ids), ...last.ids];
    expect(applied).to.include.members(all);
    expect(told).to.include.members(all);
    const status = (await runner.status()).find((s) => s.name === projector.name);
    expect(status).to.include({ liveGeneration: result.generation, eventsBehind: 0, state: 'running' });
    await runner.stop();
  });
});
