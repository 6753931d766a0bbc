import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type Koa from 'koa';
import request from 'supertest';
import { z } from 'zod';
import { WrongExpectedVersion } from '../../src/eventstore/errors.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createApp } from '../../src/http/app.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { createRedis, type Redis } from '../../src/infra/redis.js';
import { ActivePrincipals } from '../../src/auth/principals.js';
import { allProjectors } from '../../src/process/projectors.js';
import { LatestLocations } from '../../src/read-models/tracking/latest.js';
import { PostgresSearchIndex } from '../../src/read-models/search/postgres.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { freshDatabase, testLogger, testServices } from '../support/services.js';
import { loadConfig } from '../../src/infra/config.js';
import { servicesFor } from '../../src/process/services.js';

describe('The HTTP app', () => {
  let knex: Knex;
  let redis: Redis;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;
  let app: Koa;
  let draining = false;

  before(async () => {
    const url = await freshDatabase('http');
    knex = createKnex(url, 4);
    redis = createRedis((await testServices()).redisUrl, `t:${randomUUID()}:`);
    store = new PostgresEventStore({ databaseUrl: url });
    runner = new ProjectionRunner({
      knex,
      store,
      projectors: allProjectors({
        principals: new ActivePrincipals({ redis, knex, platformOrgId: randomUUID() }),
        search: new PostgresSearchIndex(knex),
        store,
        services: servicesFor({ store, knex, redis, config: loadConfig({ NODE_ENV: 'test' }) }),
        locations: new LatestLocations(redis),
      }),
      logger: testLogger,
    });
    app = createApp({
      logger: testLogger,
      knex,
      redis,
      store,
      projections: runner,
      maxLagEvents: 5,
      draining: () => draining,
    });
    // Routes that fail in the ways the error middleware must render.
    app.use(async (ctx, next) => {
      if (ctx.path === '/boom/zod') z.object({ weightLb: z.number().int() }).parse({ weightLb: 'heavy' });
      if (ctx.path === '/boom/conflict') throw new WrongExpectedVersion('load-1', 3n, 5n);
      if (ctx.path === '/boom/bug') throw new Error('secret internal detail');
      await next();
    });
  });
  afterEach(() => {
    draining = false;
  });
  after(async () => {
    await runner.stop();
    await store.close();
    redis.disconnect();
    await knex.destroy();
  });

  it('answers /health', async () => {
    const res = await request(app.callback()).get('/health').expect(200);
    expect(res.body).to.deep.equal({ status: 'ok' });
  });

  it('is ready when its dependencies answer and projections keep up, and not when they lag', async () => {
    runner.start();
    expect(await runner.idle()).to.equal(true);
    const ready = await request(app.callback()).get('/ready').expect(200);
    expect(ready.body.checks.postgres.ok).to.equal(true);
    expect(ready.body.checks.eventStore).to.include({ ok: true, adapter: 'postgres' });
    await runner.stop();
    await store.append(
      `lag-${randomUUID()}`,
      Array.from({ length: 6 }, () => ({ id: randomUUID(), type: 'T', data: {} })),
    );
    const lagging = await request(app.callback()).get('/ready').expect(503);
    expect(lagging.body.projections[0].eventsBehind).to.equal(6);
  });

  it('is not ready while the search engine does not answer', async () => {
    let up = false;
    const withSearch = createApp({
      logger: testLogger,
      knex,
      redis,
      store,
      maxLagEvents: 5,
      draining: () => false,
      searchPing: async () => {
        if (!up) throw new Error('connect ECONNREFUSED 127.0.0.1:7700');
      },
    });
    const down = await request(withSearch.callback()).get('/ready').expect(503);
    expect(down.body.checks.search).to.include({ ok: false, engine: 'meilisearch' });
    expect(down.body.checks.search.error).to.match(/ECONNREFUSED/);
    up = true;
    expect((await request(withSearch.callback()).get('/ready').expect(200)).body.checks.search).to.include({
      ok: true,
    });
  });

  it('is not ready while draining', async () => {
    draining = true;
    const res = await request(app.callback()).get('/ready').expect(503);
    expect(res.body.status).to.equal('draining');
  });

  it('gives every request an id, keeping a well-formed one from the caller', async () => {
    const mine = await request(app.callback()).get('/health').set('X-Request-Id', 'req-123').expect(200);
    expect(mine.headers['x-request-id']).to.equal('req-123');
    expect(mine.headers['x-correlation-id']).to.equal('req-123');
    const fresh = await request(app.callback()).get('/health').set('X-Request-Id', 'bad id with spaces').expect(200);
    expect(fresh.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
  });

  it('renders errors as problem+json with stable types, never leaking internals', async () => {
    const notFound = await request(app.callback()).get('/nope').expect(404);
    expect(notFound.headers['content-type']).to.match(/application\/problem\+json/);
    expect(JSON.parse(notFound.text)).to.include({
      type: 'urn:freight:problem:not-found',
      status: 404,
      instance: '/nope',
    });

    const invalid = JSON.parse((await request(app.callback()).get('/boom/zod').expect(400)).text);
    expect(invalid.type).to.equal('urn:freight:problem:validation');
    expect(invalid.errors[0].path).to.equal('weightLb');

    const conflict = JSON.parse((await request(app.callback()).get('/boom/conflict').expect(409)).text);
    expect(conflict).to.include({ type: 'urn:freight:problem:concurrency-conflict', status: 409 });
    expect(conflict.detail).to.match(/revision 5, expected 3/);

    const bug = await request(app.callback()).get('/boom/bug').expect(500);
    expect(bug.text).to.not.include('secret');
    expect(JSON.parse(bug.text)).to.include({ type: 'urn:freight:problem:internal', status: 500 });

    await request(app.callback()).post('/health').expect(405);
  });
});
