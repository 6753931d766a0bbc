import { randomUUID } from 'node:crypto';
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
});
