import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex } from '../../src/infra/db.js';
import { until } from '../support/async.js';
import { spawnCli, type Spawned } from '../support/process.js';
import { freshDatabase, testServices } from '../support/services.js';

describe('Projector failover across processes', function () {
  this.timeout(120_000);
  const procs: Spawned[] = [];
  after(() => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('runs each projector in one of two processes, and the other takes over when the holder is killed -9', async () => {
    const url = await freshDatabase('failover_e2e');
    const { redisUrl } = await testServices();
    const env = {
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: `t:${randomUUID()}:`,
      PROJECTOR_LEASE_RETRY_MS: '200',
    };
    const a = spawnCli('serve', ['--role', 'projector'], env);
    procs.push(a);
    await a.waitForLog('listening');
    await a.waitForLog('projector lease taken');
    const b = spawnCli('serve', ['--role', 'projector'], env);
    procs.push(b);
    await b.waitForLog('listening');
    await new Promise((r) => setTimeout(r, 1_000));
    const leasesOf = (p: Spawned) =>
      p
        .output()
        .split('\n')
        .filter((l) => l.includes('"projector lease taken"')).length;
    expect(leasesOf(b), 'B stands by while A holds every lease').to.equal(0);
    expect(leasesOf(a)).to.be.above(5);

    a.child.kill('SIGKILL');
    await a.exited;
    await b.waitForLog('projector lease taken', 10_000);
    expect(await until(() => leasesOf(b) === leasesOf(a), 10_000, 100), 'B took every lease').to.equal(true);

    // B now projects: a new stream shows up in its stream index.
    const store = new PostgresEventStore({ databaseUrl: url });
    const knex = createKnex(url, 2);
    try {
      const streamId = `load-${randomUUID()}`;
      await store.append(streamId, [{ id: randomUUID(), type: 'LoadPosted', data: {}, metadata: {} }]);
      expect(
        await until(async () => (await knex('stream_index').where({ stream_id: streamId })).length === 1, 10_000, 100),
      ).to.equal(true);
    } finally {
      await store.close();
      await knex.destroy();
    }
    b.child.kill('SIGTERM');
    expect((await b.exited).code).to.equal(0);
  });
});
