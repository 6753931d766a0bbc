import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { v5 as uuidv5 } from 'uuid';
import { carrierEvents } from '../../src/domain/carrier/events.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { FmcsaClient } from '../../src/integrations/fmcsa/client.js';
import { LogTransport } from '../../src/jobs/notifications/transport.js';
import { JobQueues, PRIORITY, QUEUES } from '../../src/jobs/queues.js';
import { startWorkers } from '../../src/jobs/workers.js';
import { carrierDirectoryProjector } from '../../src/read-models/carrier-directory/projector.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { FakeFmcsa } from '../fakes/fmcsa.js';
import { until } from '../support/async.js';
import { freshDatabase, testLogger, testServices } from '../support/services.js';
import { loadConfig } from '../../src/infra/config.js';
import { servicesFor } from '../../src/process/services.js';
import { createRedis, type Redis } from '../../src/infra/redis.js';

const CARRIERS = 10_000;
const PER_SECOND = 300;
const NS = '3f1c2b9a-6d4e-4f5a-9b8c-7d6e5f4a3b2c';

describe('The daily re-check of every carrier (10,000 carriers, fake FMCSA)', function () {
  this.timeout(120_000);
  const fake = new FakeFmcsa();
  let knex: Knex;
  let store: PostgresEventStore;
  let queues: JobQueues;
  let workers: Awaited<ReturnType<typeof startWorkers>>;
  let redis: Redis | undefined;
  const ids: string[] = [];

  before(async () => {
    const url = await freshDatabase('recheck');
    knex = createKnex(url, 8);
    store = new PostgresEventStore({ databaseUrl: url, poolMax: 16 });
    queues = new JobQueues((await testServices()).redisUrl, `t:${randomUUID()}:`, { attempts: 3, backoffMs: 100 });
    const baseUrl = await fake.start();
    // 10,000 registered carriers, each on the register.
    const orgId = randomUUID();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < CARRIERS; i = next++) {
          const carrierId = uuidv5(`carrier-${i}`, NS);
          const usdotNumber = String(3_000_000 + i);
          const mcNumber = String(600_000 + i);
          ids[i] = carrierId;
          fake.add({ dotNumber: usdotNumber, legalName: `CARRIER ${i} LLC`, mcNumbers: [mcNumber] });
          const { data, schemaVersion } = carrierEvents.encode('CarrierRegistered', {
            carrierId,
            orgId,
            usdotNumber,
            mcNumber: `MC-${mcNumber}`,
            legalName: `Carrier ${i} LLC`,
            equipment: ['flatbed'],
            homeBase: { city: 'Houston', state: 'TX', lat: 29.76, lng: -95.37 },
            registeredAt: new Date(),
          });
          await store.append(
            `carrier-${carrierId}`,
            [{ id: randomUUID(), type: 'CarrierRegistered', data, metadata: { schemaVersion } }],
            { expectedRevision: 'no_stream' },
          );
        }
      }),
    );
    const runner = new ProjectionRunner({
      knex,
      store,
      projectors: [carrierDirectoryProjector],
      logger: testLogger,
      batchSize: 2_000,
    });
    runner.start();
    expect(await runner.idle(60_000)).to.equal(true);
    await runner.stop();
    const fmcsa = new FmcsaClient({
      baseUrl,
      webKey: fake.webKey,
      timeoutMs: 5_000,
      attempts: 2,
      breakerFailures: 50,
      breakerOpenMs: 1_000,
    });
    workers = await startWorkers({
      queues,
      store,
      services: servicesFor({
        store,
        knex,
        redis: (redis = createRedis((await testServices()).redisUrl, `t:${randomUUID()}:`)),
        config: loadConfig({ NODE_ENV: 'test' }),
      }),
      knex,
      logger: testLogger,
      fmcsa,
      fmcsaPerSecond: PER_SECOND,
      insuranceTrustMs: 48 * 3_600_000,
      transport: new LogTransport(testLogger),
      platformOrgId: randomUUID(),
      notificationMaxAgeMs: 3_600_000,
    });
  });
  after(async () => {
    await workers?.close();
    redis?.disconnect();
    await queues?.close();
    await store?.close();
    await knex?.destroy();
    await fake.stop();
  });

  it('checks every carrier within the rate limit, lets a new request go first, and adds nothing twice on a re-run', async () => {
    const verification = queues.queue(QUEUES.verification);
    fake.requests.length = 0;
    const started = Date.now();
    await queues.queue(QUEUES.recheck).add('recheck', { day: '2026-11-23' });
    // Midway, a carrier asks to be checked now: it goes before the thousands still queued.
    expect(
      await until(async () => ((await verification.getJobCounts('completed')).completed ?? 0) >= 1_000, 30_000),
    ).to.equal(true);
    const urgent = await verification.add(
      'requested',
      { carrierId: ids[CARRIERS - 1]!, reason: 'requested' },
      { priority: PRIORITY.request },
    );
    const askedAt = Date.now();
    expect(await until(async () => (await urgent.getState()) === 'completed', 10_000)).to.equal(true);
    const urgentMs = Date.now() - askedAt;
    const leftWhenDone = await verification.getJobCounts('prioritized', 'waiting');
    expect(
      await until(async () => (await verification.getJobCounts('completed')).completed === CARRIERS + 1, 90_000),
    ).to.equal(true);
    const seconds = (Date.now() - started) / 1000;

    // It went first: when it was done, most of the re-check was still waiting (an order, not a time).
    expect(
      (leftWhenDone.prioritized ?? 0) + (leftWhenDone.waiting ?? 0),
      'the re-check was still under way',
    ).to.be.above(1_000);
    expect((await verification.getJobCounts('failed')).failed).to.equal(0);
    // Every carrier has a fresh verification on its stream.
    const checked = await knex('es_events')
      .where({ type: 'CarrierVerificationRecorded' })
      .countDistinct<{ n: string }[]>({ n: 'stream_id' });
    expect(Number(checked[0]?.n)).to.equal(CARRIERS);

    // Within the limit: one census call per check, never more than the rate (plus one limiter
    // window of 100 ms) in any second, and no faster than the rate on average. Upper bounds only: a
    // busy machine can make the checks slower, never faster, so nothing here waits on its speed.
    const times = fake.requests
      .filter((r) => /^\/qc\/services\/carriers\/\d+$/.test(r.path))
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(times).to.have.length(CARRIERS + 1);
    let peak = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= 1_000) i++;
      peak = Math.max(peak, j - i + 1);
    }
    const average = times.length / ((times[times.length - 1]! - times[0]!) / 1000);
    process.stdout.write(
      `      ${CARRIERS} checks in ${seconds.toFixed(1)} s; ${average.toFixed(0)}/s on average, ${peak} in the busiest second (limit ${PER_SECOND}/s); the urgent check took ${urgentMs} ms\n`,
    );
    expect(peak).to.be.at.most(PER_SECOND * 1.1 + 10);
    expect(average).to.be.at.most(PER_SECOND * 1.02);

    // The same day's re-check again: every job id exists, so nothing is queued or checked twice.
    const job = await queues.queue(QUEUES.recheck).add('recheck', { day: '2026-11-23' });
    expect(await until(async () => (await job.getState()) === 'completed', 30_000)).to.equal(true);
    await new Promise((r) => setTimeout(r, 300));
    expect((await verification.getJobCounts('completed')).completed).to.equal(CARRIERS + 1);
  });
});
