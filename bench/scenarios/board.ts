/**
 * Scenario 2, the load board at 1,000,000 loads: p50/p95/p99 over HTTP of six filter sets and of
 * commodity search, beside a primary-key lookup (`GET /loads/:id`) on the same table, the in-run
 * ceiling. Scenario 5, rebuild: events/s rebuilding the load board from all of history (1M+
 * events) beside reading the same events with no projection work.
 *
 * Both use one database, `bench_loadboard` (`bench_loadboard_quick` for --quick), seeded through the real
 * write path (the seed's events, appended to the event store) and kept between runs: it is seeded
 * only up to the number of loads asked for, so the first full run pays for the seeding (minutes)
 * and the next ones do not. `BENCH_LOADS=100000` picks another size (`bench_loadboard_100000`).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { ActivePrincipals } from '../../src/auth/principals.js';
import { mintToken } from '../../src/auth/tokens.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import type { Position } from '../../src/eventstore/types.js';
import { ProjectionProgress } from '../../src/projections/progress.js';
import { createApi } from '../../src/http/api.js';
import { createApp } from '../../src/http/app.js';
import { boardFilterQuery, filtersOf } from '../../src/http/routes/load-board.js';
import { type Config, DEV_JWT_SECRET, loadConfig } from '../../src/infra/config.js';
import { createKnex, ensureDatabase } from '../../src/infra/db.js';
import { createLogger } from '../../src/infra/logger.js';
import { migrateLatest } from '../../src/infra/migrate.js';
import { createRedis } from '../../src/infra/redis.js';
import { queryBoard, type SortName } from '../../src/read-models/load-board/query.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { allProjectors, searchIndexFor } from '../../src/process/projectors.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { LatestLocations } from '../../src/read-models/tracking/latest.js';
import { type Projector, projectorFilter } from '../../src/projections/types.js';
import { seed } from '../../src/seed/seed.js';
import { percentile, type Row } from '../lib/report.js';
import type { ScenarioContext } from './context.js';
import { servicesFor } from '../../src/process/services.js';

const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty', NODE_ENV: 'development' });

export interface Board {
  config: Config;
  knex: Knex;
  store: PostgresEventStore;
  runner: ProjectionRunner;
  projectors: Projector[];
  loads: number;
  events: number;
  close(): Promise<void>;
}

/**
 * How many loads the board scenarios seed: 1,000,000 (2,000 with --quick), or `BENCH_LOADS` (e.g.
 * 100000, to measure a change quickly), each size in a database of its own.
 */
function boardSize(ctx: ScenarioContext): { loads: number; database: string } {
  const asked = process.env.BENCH_LOADS;
  if (asked) {
    const loads = Number(asked);
    if (!Number.isInteger(loads) || loads < 1) throw new Error(`BENCH_LOADS must be a whole number ≥ 1, not ${asked}`);
    return { loads, database: `bench_loadboard_${loads}` };
  }
  return ctx.quick
    ? { loads: 2_000, database: 'bench_loadboard_quick' }
    : { loads: 1_000_000, database: 'bench_loadboard' };
}

/** The seeded database, its projections caught up: the board scenarios' (see boardSize) unless another is asked for. */
export async function openBoard(ctx: ScenarioContext, want: { loads?: number; dbName?: string } = {}): Promise<Board> {
  const size = boardSize(ctx);
  const loads = want.loads ?? size.loads;
  const database = want.dbName ?? size.database;
  // One load generator on one address and user: the rate limits would measure themselves.
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'development',
    RATE_LIMIT_PER_IP: '0',
    RATE_LIMIT_PER_USER: '0',
    RATE_LIMIT_LOADBOARD: '0',
  });
  const url = await ensureDatabase(ctx.adminUrl, database);
  const knex = createKnex(url, 16);
  await migrateLatest(knex);
  const redis = createRedis(ctx.redisUrl, `bench:board:${randomUUID().slice(0, 8)}:`);
  const store = new PostgresEventStore({ databaseUrl: url, poolMax: 16 });
  const principals = new ActivePrincipals({ redis, knex, platformOrgId: config.PLATFORM_ORG_ID });
  const search = searchIndexFor({ knex, config });
  const services = servicesFor({ store, knex, redis, config });
  const projectors = allProjectors({ principals, search, store, services, locations: new LatestLocations(redis) });
  const runner = new ProjectionRunner({ knex, store, projectors, logger, batchSize: 2_000 });
  const have = (await knex.raw(`select count(*)::int as n from es_streams where stream_id like 'load-%'`)).rows[0]
    .n as number;
  if (have < loads) {
    const t0 = Date.now();
    ctx.log(
      `seeding ${(loads - have).toLocaleString('en-US')} loads into ${new URL(url).pathname.slice(1)} (kept for later runs)…`,
    );
    await seed({
      store,
      loads: loads - have,
      seed: Date.now() % 2_147_483_647,
      onProgress: (d) => d % 100_000 === 0 && ctx.log(`  ${d.toLocaleString('en-US')}`),
    });
    ctx.log(`seeded in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  const t1 = Date.now();
  runner.start();
  // Poll gently: status() counts lag for every projector, and a tight loop would slow the catch-up.
  for (;;) {
    const status = await runner.status();
    if (status.every((x) => x.eventsBehind === 0)) break;
    if (status.some((x) => x.state === 'failed')) throw new Error(`a projector failed: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, ctx.quick ? 200 : 2_000));
  }
  if (Date.now() - t1 > 5_000) ctx.log(`projections caught up in ${((Date.now() - t1) / 1000).toFixed(0)} s`);
  const events = (await knex.raw(`select count(*)::int as n from es_events`)).rows[0].n as number;
  return {
    config,
    knex,
    store,
    runner,
    projectors,
    loads,
    events,
    async close() {
      await runner.stop();
      await store.close();
      redis.disconnect();
      await knex.destroy();
    },
  };
}

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
/** Six filter sets a carrier uses, and commodity search (plain and with typos). */
const SETS: { name: string; path: string; query: Record<string, string> }[] = [
  { name: 'open board, soonest pickup first', path: '/loads', query: {} },
  {
    name: 'deadhead ≤ 100 mi of Dallas, nearest first',
    path: '/loads',
    query: { originLat: '32.78', originLng: '-96.80', originRadiusMi: '100', sort: 'deadhead' },
  },
  {
    name: 'within 150 mi of Chicago to GA/FL',
    path: '/loads',
    query: { originLat: '41.88', originLng: '-87.63', originRadiusMi: '150', destStates: 'GA,FL' },
  },
  {
    name: 'flatbed/step deck from TX, ≥ $3/mi',
    path: '/loads',
    query: { equipment: 'flatbed,step_deck', originStates: 'TX', minRatePerMileCents: '300' },
  },
  {
    name: 'pickup next 48 h, ≤ 30,000 lb, full, best rate',
    path: '/loads',
    query: { pickupFrom: inHours(0), pickupTo: inHours(48), maxWeightLb: '30000', loadSize: 'full', sort: 'rate' },
  },
  {
    name: 'dry van into 75 mi of Los Angeles',
    path: '/loads',
    query: { destLat: '34.05', destLng: '-118.24', destRadiusMi: '75', equipment: 'dry_van' },
  },
  { name: 'search "rebar"', path: '/search/loads', query: { q: 'rebar' } },
  { name: 'search "concret admixtur" (typos)', path: '/search/loads', query: { q: 'concret admixtur' } },
];

export async function loadBoardScenario(ctx: ScenarioContext): Promise<Row[]> {
  const requests = ctx.quick ? 30 : 300;
  const b = await openBoard(ctx);
  let server: Server | undefined;
  const redis = createRedis(ctx.redisUrl, `bench:board-api:${randomUUID().slice(0, 8)}:`);
  try {
    // The live generations' tables (a rebuild scenario before this one may have switched them).
    const live = async (name: string) =>
      ((await b.knex('projections').where({ name }).first('live_generation')) as { live_generation: number })
        .live_generation;
    await b.knex.raw('vacuum analyze ??', [`load_board__g${await live('load_board')}`]);
    await b.knex.raw('analyze ??', [`load_search__g${await live('load_search')}`]);
    const { config, knex, store, runner } = b;
    const principals = new ActivePrincipals({ redis, knex, platformOrgId: config.PLATFORM_ORG_ID });
    const search = searchIndexFor({ knex, config });
    const services = servicesFor({ store, knex, redis, config });
    const projectors = allProjectors({ principals, search, store, services, locations: new LatestLocations(redis) });
    // No read here waits on minPosition: the wait's LISTEN connection is never opened.
    const progress = new ProjectionProgress({ knex, store, projectors });
    const api = createApi({ knex, redis, store, services, projectors, progress, principals, search, config });
    const app = createApp({
      logger,
      knex,
      redis,
      store,
      projections: runner,
      maxLagEvents: 10_000_000,
      draining: () => false,
      api,
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sign = (p: { userId: string; orgId: string; roles: ('admin' | 'carrier')[] }) =>
      mintToken({ secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }, p);
    const admin = `Bearer ${await sign({ userId: randomUUID(), orgId: config.PLATFORM_ORG_ID, roles: ['admin'] })}`;
    const post = (p: string, body: object) =>
      fetch(`${base}${p}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<Record<string, string>>);
    const org = await post('/orgs', { name: 'Bench Carrier', kind: 'carrier' });
    const user = await post(`/orgs/${org.orgId}/users`, {
      email: `bench-${randomUUID().slice(0, 6)}@example.com`,
      name: 'Bench',
      roles: ['carrier'],
    });
    await runner.idle(60_000);
    const carrier = `Bearer ${await sign({ userId: user.userId!, orgId: org.orgId!, roles: ['carrier'] })}`;

    /** `n` sequential requests after 20 warm-up ones: sorted latencies (ms) and the rows of the last answer. */
    const time = async (paths: string[], n: number) => {
      const ms: number[] = [];
      let count = 0;
      for (let i = 0; i < n + 20; i++) {
        const p = paths[i % paths.length]!;
        const t = process.hrtime.bigint();
        const res = await fetch(`${base}${p}`, { headers: { authorization: carrier } });
        const body = (await res.json()) as { items?: unknown[] };
        if (res.status !== 200) throw new Error(`${p}: ${res.status} ${JSON.stringify(body)}`);
        if (i >= 20) ms.push(Number(process.hrtime.bigint() - t) / 1e6);
        count = body.items?.length ?? 1;
      }
      return { ms: ms.sort((x, y) => x - y), count };
    };
    const ids = (await knex('load_board').where('status', 'posted').select('load_id').limit(requests)).map(
      (r: { load_id: string }) => `/loads/${r.load_id}`,
    );
    const pk = { p50: [] as number[], p95: [] as number[], p99: [] as number[] };
    const sets = SETS.map(() => ({ p50: [] as number[], p95: [] as number[], p99: [] as number[], count: 0 }));
    for (let run = 0; run < ctx.runs; run++) {
      const k = await time(ids, requests);
      for (const p of [50, 95, 99] as const) pk[`p${p}`].push(percentile(k.ms, p));
      for (const [i, s] of SETS.entries()) {
        const qs = new URLSearchParams(s.query).toString();
        const r = await time([`${s.path}${qs ? `?${qs}` : ''}`], requests);
        for (const p of [50, 95, 99] as const) sets[i]![`p${p}`].push(percentile(r.ms, p));
        sets[i]!.count = r.count;
      }
      ctx.log(
        `load board run ${run + 1}: PK p95 ${pk.p95[run]!.toFixed(2)} ms, slowest set p95 ${Math.max(...sets.map((x) => x.p95[run]!)).toFixed(2)} ms`,
      );
    }
    const total = (await knex.raw('select count(*)::int as n from load_board')).rows[0].n as number;
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const rows: Row[] = [
      {
        scenario: 'load board',
        case: `GET /loads/:id p95 (${total.toLocaleString('en-US')} loads)`,
        unit: 'ms',
        better: 'lower',
        ours: pk.p95,
        note: `primary-key lookup, the ceiling of the rows below; p50 ${med(pk.p50).toFixed(2)} ms, p99 ${med(pk.p99).toFixed(2)} ms; ${requests} sequential requests per run over HTTP (keep-alive) after 20 warm-up`,
      },
    ];
    for (const [i, s] of SETS.entries()) {
      const r = sets[i]!;
      rows.push({
        scenario: 'load board',
        case: `${s.path === '/loads' ? 'GET /loads' : 'GET /search/loads'}: ${s.name}, p95`,
        unit: 'ms',
        better: 'lower',
        ours: r.p95,
        ceiling: { name: 'GET /loads/:id p95', values: pk.p95 },
        aims: [{ value: 10, atMost: true }],
        note: `p50 ${med(r.p50).toFixed(2)} ms, p99 ${med(r.p99).toFixed(2)} ms; ${r.count} rows in the answer`,
      });
    }
    // The plan of the slowest board query, as the API runs it, for whoever looks into it.
    const slowest = SETS.map((s, i) => ({ s, p95: med(sets[i]!.p95) }))
      .filter((x) => x.s.path === '/loads')
      .sort((x, y) => y.p95 - x.p95)[0]!.s;
    const actor = { userId: user.userId!, orgId: org.orgId!, roles: ['carrier' as const] };
    // Every statement the page runs (a radius page in pickup order runs two), as the API runs them.
    const statements: { sql: string; bindings: readonly unknown[] }[] = [];
    const record = (q: { sql: string; bindings?: readonly unknown[] }) =>
      statements.push({ sql: q.sql, bindings: q.bindings ?? [] });
    knex.on('query', record);
    await queryBoard(knex, {
      filters: filtersOf(boardFilterQuery.parse(slowest.query)),
      actor,
      sort: (slowest.query.sort ?? 'pickup') as SortName,
      limit: 25,
      now: new Date(),
    });
    knex.removeListener('query', record);
    const conn = (await knex.client.acquireConnection()) as {
      query(sql: string, values: readonly unknown[]): Promise<{ rows: { 'QUERY PLAN': string }[] }>;
    };
    for (const st of statements) {
      // The statements as sent, with $n parameters: straight to a pg connection.
      const plan = (await conn.query(`explain (analyze, buffers) ${st.sql}`, st.bindings)).rows.map(
        (r) => r['QUERY PLAN'],
      );
      ctx.log(
        `EXPLAIN (ANALYZE, BUFFERS) of the slowest filter set (${slowest.name}):\n${plan.map((l) => `    ${l}`).join('\n')}`,
      );
    }
    await knex.client.releaseConnection(conn);
    return rows;
  } finally {
    if (server) await new Promise((r) => server!.close(r));
    redis.disconnect();
    await b.close();
  }
}

export async function rebuildScenario(ctx: ScenarioContext): Promise<Row[]> {
  const b = await openBoard(ctx);
  try {
    await b.runner.stop();
    const projector = b.projectors.find((p) => p.name === 'load_board')!;
    const filter = projectorFilter(projector);
    const batchSize = 2_000;
    const rebuilt: number[] = [];
    const read: number[] = [];
    const afterSwitch: number[] = [];
    let events = 0;
    const autovacuum = ((await b.knex.raw('show autovacuum')).rows[0] as { autovacuum: string }).autovacuum;
    const carrier = { userId: randomUUID(), orgId: randomUUID(), roles: ['carrier' as const] };
    for (let run = 0; run < ctx.runs; run++) {
      // The ceiling: the same pages of the same events, nothing done with them.
      let t = performance.now();
      let position: Position | 'start' = 'start';
      let n = 0;
      for (;;) {
        const page = await b.store.readAll({ fromPosition: position, maxCount: batchSize, filter });
        if (page.length === 0) break;
        n += page.length;
        position = page[page.length - 1]!.position;
      }
      read.push(n / ((performance.now() - t) / 1000));
      events = n;
      t = performance.now();
      const r = await rebuildProjection({
        knex: b.knex,
        store: b.store,
        checkpoints: b.runner.checkpoints,
        projector,
        logger,
        batchSize,
      });
      rebuilt.push(r.applied / ((performance.now() - t) / 1000));
      // The first reads of the new generation: planned on whatever statistics the rebuild left (issue 22's cliff).
      const took: number[] = [];
      for (let k = 0; k < 20; k++) {
        const q0 = performance.now();
        await queryBoard(b.knex, {
          filters: { statuses: ['posted'] },
          actor: carrier,
          sort: 'pickup',
          limit: 25,
          now: new Date(),
        });
        took.push(performance.now() - q0);
      }
      afterSwitch.push(
        percentile(
          [...took].sort((x, y) => x - y),
          50,
        ),
      );
      ctx.log(
        `rebuild run ${run + 1}: ${r.applied.toLocaleString('en-US')} events, rebuild ${Math.round(rebuilt[run]!)}/s, read only ${Math.round(read[run]!)}/s`,
      );
    }
    return [
      {
        scenario: 'rebuild',
        case: `rebuild the load board from ${events.toLocaleString('en-US')} events (${b.events.toLocaleString('en-US')} in the log)`,
        unit: 'events/s',
        better: 'higher',
        ours: rebuilt,
        ceiling: { name: 'the same reads, no projection', values: read },
        aims: [{ of: 'ceiling', atLeast: 0.5 }],
        note: `a new generation built beside the live one, then switched; pages of ${batchSize.toLocaleString('en-US')}; ${b.loads.toLocaleString('en-US')} loads`,
      },
      {
        scenario: 'rebuild',
        case: 'open board as a carrier, first 20 queries after the switch, p50',
        unit: 'ms',
        better: 'lower',
        ours: afterSwitch,
        aims: [{ value: 10, atMost: true }],
        note: `soonest pickup, 25 rows, straight to Postgres (no HTTP); autovacuum ${autovacuum} on this server: the rebuild's own ANALYZE is what the planner has`,
      },
    ];
  } finally {
    await b.close();
  }
}
