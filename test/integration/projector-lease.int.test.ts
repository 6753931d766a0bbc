import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { ProjectorLeases } from '../../src/projections/lease.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { streamIndexProjector } from '../../src/read-models/stream-index/projector.js';
import { until } from '../support/async.js';
import { freshDatabase, testLogger } from '../support/services.js';

describe('Projector leases: one process runs a projector, another takes over when it dies', () => {
  let url: string;
  let knex: Knex;
  let store: PostgresEventStore;

  before(async () => {
    url = await freshDatabase('lease');
    knex = createKnex(url, 4);
    store = new PostgresEventStore({ databaseUrl: url, pollMs: 50 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });

  /** A projector process: its own leases and runner on the shared database. */
  function process_() {
    // The callback runs only once the runner exists (a lease is lost after it was taken).
    const leases = new ProjectorLeases(url, testLogger, (names) => runner.leasesLost(names));
    const runner = new ProjectionRunner({
      knex,
      store,
      projectors: [streamIndexProjector],
      logger: testLogger,
      batchSize: 50,
      leases,
      leaseRetryMs: 100,
    });
    return { runner, leases };
  }
  const state = async (r: ProjectionRunner) => (await r.status())[0]!.state;
  const append = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        store.append(`load-${randomUUID()}`, [{ id: randomUUID(), type: 'LoadPosted', data: {}, metadata: {} }]),
      ),
    );
  const indexed = async () => Number((await knex('stream_index').count<{ n: string }[]>({ n: '*' }))[0]!.n);

  it('runs the projector in one process only, and fails over when the holder dies', async () => {
    const a = process_();
    a.runner.start();
    expect(await until(async () => (await state(a.runner)) === 'running', 5_000)).to.equal(true);
    const b = process_();
    b.runner.start();
    expect(await until(async () => (await state(b.runner)) === 'standby', 5_000)).to.equal(true);

    await append(20);
    expect(await until(async () => (await indexed()) === 20, 5_000)).to.equal(true);
    expect(await state(b.runner), 'the standby stays standing by').to.equal('standby');

    // The holder dies: its lease connection drops without releasing anything.
    a.leases.crash();
    expect(await until(async () => (await state(b.runner)) === 'running', 5_000), 'the standby takes over').to.equal(
      true,
    );
    await append(10);
    expect(await until(async () => (await indexed()) === 30, 5_000)).to.equal(true);
    expect(
      await until(async () => (await state(a.runner)) === 'standby' || (await state(a.runner)) === 'stopped', 5_000),
    ).to.equal(true);

    await a.runner.stop();
    await b.runner.stop();
    await b.leases.close();
    await a.leases.close();
  });

  it('releases its leases on a clean stop, so a standby takes over at once', async () => {
    const a = process_();
    a.runner.start();
    expect(await until(async () => (await state(a.runner)) === 'running', 5_000)).to.equal(true);
    const b = process_();
    b.runner.start();
    expect(await until(async () => (await state(b.runner)) === 'standby', 5_000)).to.equal(true);
    await a.runner.stop();
    await a.leases.close();
    expect(await until(async () => (await state(b.runner)) === 'running', 2_000)).to.equal(true);
    await b.runner.stop();
    await b.leases.close();
  });
});
