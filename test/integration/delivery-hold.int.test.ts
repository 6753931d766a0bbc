import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import Koa from 'koa';
import pg from 'pg';
import request from 'supertest';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex } from '../../src/infra/db.js';
import { DeliveryWatch } from '../../src/eventstore/delivery-watch.js';
import { createLogger } from '../../src/infra/logger.js';
import { Metrics } from '../../src/infra/metrics.js';
import { createRedis } from '../../src/infra/redis.js';
import { healthRouter } from '../../src/http/routes/health.js';
import { until } from '../support/async.js';
import { freshDatabase, testServices, uniquePrefix } from '../support/services.js';

/** A stall that remains (an append left open) is seen at once: metric, /ready, and a warning naming it (issue 20). */
describe('Seeing held-back delivery', () => {
  let url: string;
  let store: PostgresEventStore;
  before(async () => {
    url = await freshDatabase('delivery_hold');
    store = new PostgresEventStore({ databaseUrl: url, pollMs: 200 });
  });
  after(() => store?.close());

  it('reports events held behind an open append, names the backend holding them, and clears when it ends', async function () {
    this.timeout(60_000);
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    const logger = createLogger({ LOG_LEVEL: 'info', LOG_FORMAT: 'json', NODE_ENV: 'test' });
    logger.silent = true;
    logger.warn = ((message: string, fields: Record<string, unknown> = {}) =>
      warnings.push({ message, fields })) as never;
    const metrics = new Metrics();
    const watch = new DeliveryWatch({ store, logger, metrics, everyMs: 100, thresholdMs: 500 });
    const knex = createKnex(url, 2);
    const redis = createRedis((await testServices()).redisUrl, uniquePrefix('dh'));
    const app = new Koa();
    const health = healthRouter({
      knex,
      redis,
      store,
      maxLagEvents: 10_000,
      draining: () => false,
      delivery: () => watch.state,
      metrics,
    });
    app.use(health.routes());
    type Ready = { status: string; reason?: string; checks: { delivery: Record<string, unknown> } };
    const ready = async () => (await request(app.callback()).get('/ready').expect(200)).body as Ready;

    const report = new pg.Client({ connectionString: url, application_name: 'nightly-report' });
    const held = new pg.Client({ connectionString: url, application_name: 'stuck-importer' });
    await report.connect();
    await held.connect();
    watch.start();
    try {
      // A transaction that writes elsewhere and stays open holds nothing back.
      await report.query('create table if not exists report_rows (id uuid primary key)');
      await report.query('begin');
      await report.query('insert into report_rows (id) values ($1)', [randomUUID()]);
      await store.append(`free-${randomUUID()}`, [{ id: randomUUID(), type: 'T', data: {} }]);
      expect(await watch.check()).to.include({ heldEvents: 0, stalled: false });

      // An append left open holds back what commits after it.
      const heldPid = (await held.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await held.query('begin');
      await held.query("select * from es_append(array[$1], array['any'], $2::jsonb)", [
        `held-${randomUUID()}`,
        JSON.stringify([[{ i: randomUUID(), t: 'Held', d: {} }]]),
      ]);
      for (let i = 0; i < 3; i++)
        await store.append(`after-${randomUUID()}`, [{ id: randomUUID(), type: 'T', data: {} }]);

      expect(await until(() => watch.state.stalled, 30_000, 50), 'the watch saw the stall').to.equal(true);
      expect(watch.state.heldEvents).to.equal(3);
      expect(watch.state.holder).to.include({
        pid: heldPid,
        applicationName: 'stuck-importer',
        state: 'idle in transaction',
      });
      expect(watch.state.holder!.query).to.include('es_append');
      const body = await ready();
      expect(body.status).to.equal('degraded');
      expect(body.reason).to.match(
        /3 committed events have waited \d+ s behind an append open for \d+ s \(backend pid \d+, application "stuck-importer"/,
      );
      expect(body.checks.delivery).to.deep.include({ ok: false, heldEvents: 3 });
      // Unauthenticated: it names the session, but not what the session runs.
      expect(body.checks.delivery.holder).to.include({ pid: heldPid, applicationName: 'stuck-importer' });
      expect(body.checks.delivery.holder).to.not.have.property('query');
      const text = await metrics.text();
      expect(text).to.match(/^eventstore_delivery_held_back_events 3$/m);
      expect(Number(/^eventstore_delivery_held_back_seconds (\S+)$/m.exec(text)![1])).to.be.above(0);
      const warning = warnings.find((w) => w.message === 'event delivery is held back');
      expect(warning?.fields).to.deep.include({ heldEvents: 3 });
      expect(warning?.fields.holder).to.include({ pid: heldPid, applicationName: 'stuck-importer' });
      expect((warning?.fields.holder as { query: string }).query).to.include('es_append');

      await held.query('commit');
      expect(await until(() => !watch.state.stalled, 30_000, 50), 'the stall cleared').to.equal(true);
      expect(watch.state.heldEvents).to.equal(0);
      expect((await ready()).status).to.equal('ready');
      await report.query('rollback');
    } finally {
      await watch.stop();
      await report.end();
      await held.end();
      redis.disconnect();
      await knex.destroy();
    }
  });
});
