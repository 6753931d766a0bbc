/**
 * `npm run bench:loadboard [-- --loads 1000000] [--requests 300] [--fresh]`: seeds loads through
 * the real write path into its own database (`bench_loadboard`, reused when it already holds
 * enough loads), lets the projectors catch up, then times `GET /loads` for representative filter
 * sets and `GET /search/loads` over HTTP on a listening server, beside a primary-key lookup
 * (`GET /loads/:id`) as the in-run ceiling. Prints the table and the EXPLAIN of the two slowest
 * filter sets, and writes bench/reports/loadboard.md. A benchmark, not a test: it asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ActivePrincipals } from '../src/auth/principals.js';
import { mintToken } from '../src/auth/tokens.js';
import { PostgresEventStore } from '../src/eventstore/postgres/store.js';
import { createApi } from '../src/http/api.js';
import { createApp } from '../src/http/app.js';
import { boardFilterQuery, filtersOf } from '../src/http/routes/load-board.js';
import { DEV_JWT_SECRET, loadConfig } from '../src/infra/config.js';
import { createKnex, ensureDatabase } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { migrateLatest } from '../src/infra/migrate.js';
import { createRedis } from '../src/infra/redis.js';
import { startServices } from '../src/infra/services.js';
import { boardQuery, type SortName } from '../src/projections/load-board/query.js';
import { allProjectors, searchIndexFor } from '../src/projections/registry.js';
import { LatestLocations } from '../src/projections/tracking/latest.js';
import { ProjectionRunner } from '../src/projections/runner.js';
import { seed } from '../src/seed/seed.js';

const { values } = parseArgs({ options: { loads: { type: 'string', default: '1000000' }, requests: { type: 'string', default: '300' }, fresh: { type: 'boolean', default: false } } });
const LOADS = Number(values.loads);
const REQUESTS = Number(values.requests);
const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty', NODE_ENV: 'development' });

// One load generator on one address and user: the rate limits would measure themselves.
const config = loadConfig({ ...process.env, NODE_ENV: 'development', RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_LOADBOARD: '0' });
const services = await startServices(config, logger);
const url = await ensureDatabase(services.databaseUrl, values.fresh ? `bench_loadboard_${Date.now()}` : 'bench_loadboard');
const knex = createKnex(url, 16);
await migrateLatest(knex);
const redis = createRedis(services.redisUrl, 'bench:loadboard:');
const store = new PostgresEventStore({ databaseUrl: url, poolMax: 16 });
const platformOrgId = config.PLATFORM_ORG_ID;
const principals = new ActivePrincipals({ redis, knex, platformOrgId });
const search = searchIndexFor({ knex, config });
const projectors = allProjectors({ principals, search, store, locations: new LatestLocations(redis) });
const runner = new ProjectionRunner({ knex, store, projectors, logger, batchSize: 2_000 });

const have = (await knex.raw(`select count(*)::int as n from es_streams where stream_id like 'load-%'`)).rows[0].n as number;
if (have < LOADS) {
  const t0 = Date.now();
  process.stdout.write(`seeding ${(LOADS - have).toLocaleString('en-US')} loads…\n`);
  const r = await seed({ store, loads: LOADS - have, seed: Date.now() % 2_147_483_647, onProgress: (d) => d % 100_000 === 0 && process.stdout.write(`  ${d.toLocaleString('en-US')}\n`) });
  process.stdout.write(`seeded ${r.loads.toLocaleString('en-US')} loads in ${((Date.now() - t0) / 1000).toFixed(0)} s (${Math.round(r.loads / ((Date.now() - t0) / 1000)).toLocaleString('en-US')} loads/s)\n`);
}
const t1 = Date.now();
runner.start();
// Poll gently: status() counts lag for every projector, and a tight loop would slow the catch-up it measures.
for (;;) {
  const status = await runner.status();
  if (status.every((x) => x.eventsBehind === 0)) break;
  if (status.some((x) => x.state === 'failed')) throw new Error(`a projector failed: ${JSON.stringify(status)}`);
  await new Promise((r) => setTimeout(r, 2_000));
}
process.stdout.write(`projections caught up in ${((Date.now() - t1) / 1000).toFixed(0)} s\n`);
await knex.raw('vacuum analyze load_board__g1');
await knex.raw('analyze load_search__g1');

const api = createApi({ knex, redis, store, projectors, principals, search, config });
const app = createApp({ logger, knex, redis, store, projections: runner, maxLagEvents: 1_000_000, draining: () => false, api });
const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const sign = (p: { userId: string; orgId: string; roles: ('admin' | 'carrier')[] }) => mintToken({ secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }, p);
const admin = `Bearer ${await sign({ userId: randomUUID(), orgId: platformOrgId, roles: ['admin'] })}`;
const post = (path: string, body: object) => fetch(`${base}${path}`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, string>>);
const org = await post('/orgs', { name: 'Bench Carrier', kind: 'carrier' });
const user = await post(`/orgs/${org.orgId}/users`, { email: `bench-${randomUUID().slice(0, 6)}@example.com`, name: 'Bench', roles: ['carrier'] });
await runner.idle(60_000);
const carrier = `Bearer ${await sign({ userId: user.userId!, orgId: org.orgId!, roles: ['carrier'] })}`;

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
const SETS: { name: string; path: string; query: Record<string, string> }[] = [
  { name: 'open board, soonest pickup first', path: '/loads', query: {} },
  { name: 'deadhead ≤ 100 mi of Dallas, nearest first', path: '/loads', query: { originLat: '32.78', originLng: '-96.80', originRadiusMi: '100', sort: 'deadhead' } },
  { name: 'within 150 mi of Chicago to GA/FL', path: '/loads', query: { originLat: '41.88', originLng: '-87.63', originRadiusMi: '150', destStates: 'GA,FL' } },
  { name: 'flatbed/step deck from TX, ≥ $3/mi', path: '/loads', query: { equipment: 'flatbed,step_deck', originStates: 'TX', minRatePerMileCents: '300' } },
  { name: 'pickup next 48 h, ≤ 30,000 lb, full, best rate', path: '/loads', query: { pickupFrom: inHours(0), pickupTo: inHours(48), maxWeightLb: '30000', loadSize: 'full', sort: 'rate' } },
  { name: '≥ $3,000, posted last 24 h, best rate/mile', path: '/loads', query: { minRateCents: '300000', maxAgeHours: '24', sort: 'ratePerMile' } },
  { name: 'dry van into 75 mi of Los Angeles', path: '/loads', query: { destLat: '34.05', destLng: '-118.24', destRadiusMi: '75', equipment: 'dry_van' } },
  { name: 'search "rebar"', path: '/search/loads', query: { q: 'rebar' } },
  { name: 'search "concret admixtur" (typos)', path: '/search/loads', query: { q: 'concret admixtur' } },
  { name: 'search "gravel" from TX, dump', path: '/search/loads', query: { q: 'gravel', originStates: 'TX', equipment: 'dump' } },
];

async function time(path: string, query: Record<string, string>, n: number): Promise<{ ms: number[]; count: number }> {
  const qs = new URLSearchParams(query).toString();
  const ms: number[] = [];
  let count = 0;
  for (let i = 0; i < n + 20; i++) {
    const t = process.hrtime.bigint();
    const res = await fetch(`${base}${path}${qs ? `?${qs}` : ''}`, { headers: { authorization: carrier } });
    const body = (await res.json()) as { items?: unknown[] };
    if (res.status !== 200) throw new Error(`${path}?${qs}: ${res.status} ${JSON.stringify(body)}`);
    if (i >= 20) ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    count = body.items?.length ?? 1;
  }
  return { ms: ms.sort((a, b) => a - b), count };
}
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const someIds = (await knex('load_board').where('status', 'posted').select('load_id').limit(REQUESTS)).map((r: { load_id: string }) => r.load_id);
const pk: number[] = [];
for (const [i, id] of [...someIds.slice(0, 20), ...someIds].entries()) {
  const t = process.hrtime.bigint();
  const res = await fetch(`${base}/loads/${id}`, { headers: { authorization: carrier } });
  await res.json();
  if (i >= 20) pk.push(Number(process.hrtime.bigint() - t) / 1e6);
}
pk.sort((a, b) => a - b);

const rows: { name: string; p50: number; p95: number; p99: number; count: number; query: Record<string, string>; path: string }[] = [];
for (const s of SETS) {
  const { ms, count } = await time(s.path, s.query, REQUESTS);
  rows.push({ name: s.name, p50: pct(ms, 50), p95: pct(ms, 95), p99: pct(ms, 99), count, query: s.query, path: s.path });
  process.stdout.write(`  ${s.name}: p95 ${pct(ms, 95).toFixed(2)} ms\n`);
}
const total = (await knex.raw('select count(*)::int as n from load_board')).rows[0].n as number;
const posted = (await knex.raw(`select count(*)::int as n from load_board where status = 'posted'`)).rows[0].n as number;
const f = (x: number) => x.toFixed(2);
const lines = [
  `# Load board benchmark`,
  ``,
  `${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · ${total.toLocaleString('en-US')} loads (${posted.toLocaleString('en-US')} posted) · ${REQUESTS} sequential requests per row over HTTP (keep-alive), after 20 warm-up · search engine: ${search.name}`,
  ``,
  `| query | rows | p50 ms | p95 ms | p99 ms | p50 ÷ PK lookup p50 | aim p95 ≤ 10 ms |`,
  `|---|---|---|---|---|---|---|`,
  `| GET /loads/:id (primary key; the ceiling) | 1 | ${f(pct(pk, 50))} | ${f(pct(pk, 95))} | ${f(pct(pk, 99))} | 1.00× | |`,
  ...rows.map((r) => `| ${r.path === '/loads' ? 'GET /loads' : 'GET /search/loads'}: ${r.name} | ${r.count} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.p99)} | ${(r.p50 / pct(pk, 50)).toFixed(2)}× | ${r.p95 <= 10 ? 'met' : '**not met**'} |`),
];
// EXPLAIN the two slowest board filter sets, as the API runs them.
const slowest = rows.filter((r) => r.path === '/loads').sort((a, b) => b.p95 - a.p95).slice(0, 2);
const actor = { userId: user.userId!, orgId: org.orgId!, roles: ['carrier' as const] };
for (const s of slowest) {
  const filters = filtersOf(boardFilterQuery.parse(s.query));
  const q = boardQuery(knex, { filters, actor, sort: (s.query.sort ?? 'pickup') as SortName, limit: 25, now: new Date() });
  const plan = (await knex.raw(`explain (analyze, buffers) ${q.toString()}`)).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
  lines.push('', `## EXPLAIN (ANALYZE, BUFFERS): ${s.name}`, '', '```', plan, '```');
}
const report = lines.join('\n') + '\n';
process.stdout.write(`\n${report}`);
await writeFile(new URL('./reports/loadboard.md', import.meta.url), report);
server.close();
await runner.stop();
await store.close();
redis.disconnect();
await knex.destroy();
await services.stop();
process.exit(0);
