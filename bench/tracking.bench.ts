/**
 * `npm run bench:tracking [-- --trucks 1000 --dashboards 1000 --batch 20 --seconds 20]`: GPS ingest
 * end to end. Starts the service as its own process (all roles) on a fresh database, sets up one
 * load per truck through the API (a driver each, booked and assigned), connects the dashboards
 * (each follows one truck's tracking room), then:
 *   1. saturation: concurrent senders post batches as fast as the service takes them → pings/s;
 *   2. paced, below saturation: every truck sends a batch of 5 pings every 5 s (a phone that
 *      records a fix a second and uploads every 5 s; above the 1 s location throttle, so a
 *      dashboard hears each batch at once) → latency from the append's 202 to the fix in Redis
 *      (sampled by polling Redis) and to the dashboard's `location` message.
 * Prints a table and writes bench/reports/tracking.md. A benchmark, not a test: it asserts nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { mintToken } from '../src/auth/tokens.js';
import { DEV_JWT_SECRET, loadConfig } from '../src/infra/config.js';
import { dropDatabase, ensureDatabase } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { startServices } from '../src/infra/services.js';

const { values } = parseArgs({
  options: {
    trucks: { type: 'string', default: '1000' },
    dashboards: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    senders: { type: 'string', default: '32' },
    'pace-ms': { type: 'string', default: '5000' },
    'paced-batch': { type: 'string', default: '5' },
  },
});
const TRUCKS = Number(values.trucks);
const DASHBOARDS = Math.min(Number(values.dashboards), TRUCKS);
const BATCH = Number(values.batch);
const SECONDS = Number(values.seconds);
const SENDERS = Number(values.senders);
const PACE_MS = Number(values['pace-ms']);
const PACED_BATCH = Number(values['paced-batch']);

const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty', NODE_ENV: 'development' });
const config = loadConfig({ ...process.env, NODE_ENV: 'development' });
const services = await startServices(config, logger);
const dbName = 'bench_tracking';
await dropDatabase(services.databaseUrl, dbName);
const databaseUrl = await ensureDatabase(services.databaseUrl, dbName);
const prefix = `bench:tracking:${randomUUID().slice(0, 8)}:`;

// The service under test, in its own process.
const root = path.resolve(import.meta.dirname, '..');
const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/serve.ts')], {
  cwd: root,
  env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_GPS: '0', PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', LOG_LEVEL: 'info', NODE_ENV: 'development' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// A failing run must not leave the service behind.
process.on('exit', () => child.kill('SIGKILL'));
process.on('unhandledRejection', (err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
const port = await new Promise<number>((resolve, reject) => {
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const line of out.split('\n')) {
      if (line.includes('"message":"listening"')) resolve((JSON.parse(line) as { port: number }).port);
    }
  });
  child.once('exit', (code) => reject(new Error(`the service exited (${code}) before listening`)));
});
const base = `http://127.0.0.1:${port}`;
const sign = (userId: string, orgId: string, roles: ('admin' | 'shipper' | 'carrier' | 'driver')[]) =>
  mintToken({ secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }, { userId, orgId, roles });
async function call(tok: string, p: string, body: object): Promise<Record<string, string>> {
  for (;;) {
    const res = await fetch(`${base}${p}`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, string>;
    // 503: not ready yet; 409: lost a race on a busy stream more often than the server retries.
    if (res.status === 503 || res.status === 409) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (res.status >= 300) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
}
async function settle() {
  for (;;) {
    const r = (await (await fetch(`${base}/ready`)).json()) as { projections?: { eventsBehind: number }[] };
    if (r.projections?.every((x) => x.eventsBehind === 0)) return;
    await new Promise((res) => setTimeout(res, 200));
  }
}
async function inParallel<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

// Set-up through the API: a shipper, a carrier with one driver per truck, one hauled load per truck.
const t0 = Date.now();
process.stdout.write(`setting up ${TRUCKS} trucks…\n`);
const admin = await sign(randomUUID(), config.PLATFORM_ORG_ID, ['admin']);
await settle();
const shipperOrg = (await call(admin, '/orgs', { name: 'Bench Aggregates', kind: 'shipper' })).orgId!;
const carrierOrg = (await call(admin, '/orgs', { name: 'Bench Haulers', kind: 'carrier' })).orgId!;
const shipperUser = (await call(admin, `/orgs/${shipperOrg}/users`, { email: 'ship@bench.example', name: 'Ship', roles: ['shipper'] })).userId!;
const carrierUser = (await call(admin, `/orgs/${carrierOrg}/users`, { email: 'disp@bench.example', name: 'Disp', roles: ['carrier'] })).userId!;
const drivers: string[] = new Array(TRUCKS);
// Users of one organisation share its stream (which grows with each): two writers at a time.
await inParallel([...Array(TRUCKS).keys()], 2, async (i) => {
  drivers[i] = (await call(admin, `/orgs/${carrierOrg}/users`, { email: `driver${i}@bench.example`, name: `Driver ${i}`, roles: ['driver'] })).userId!;
});
await settle();
const shipper = await sign(shipperUser, shipperOrg, ['shipper']);
const carrier = await sign(carrierUser, carrierOrg, ['carrier']);
const carrierId = (
  await call(carrier, '/carriers', { orgId: carrierOrg, usdotNumber: '1234567', legalName: 'Bench Haulers LLC', equipment: ['flatbed'], homeBase: { city: 'Houston', state: 'TX', lat: 29.76, lng: -95.37 } })
).carrierId!;
const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
await call(admin, `/carriers/${carrierId}/verifications`, { allowedToOperate: true, outOfService: false, authorityStatus: 'active', insurance: { onFile: true, expiresAt: day(365) } });
const loads: string[] = new Array(TRUCKS);
await inParallel([...Array(TRUCKS).keys()], 16, async (i) => {
  const lat = 29 + (i % 100) * 0.05;
  const lng = -98 + Math.floor(i / 100) * 0.05;
  const loadId = (
    await call(shipper, '/loads', {
      shipperOrgId: shipperOrg,
      reference: `B-${i}`,
      commodity: 'Crushed stone',
      description: 'Bench load',
      weightLb: 40_000,
      lengthFt: 40,
      equipmentType: 'flatbed',
      loadSize: 'full',
      origin: { address: '1 Quarry Rd', city: 'Somewhere', state: 'TX', zip: '75001', lat, lng },
      destination: { address: '2 Site Rd', city: 'Elsewhere', state: 'TX', zip: '75002', lat: lat + 1, lng: lng + 1 },
      pickupWindow: { from: day(1), to: day(2) },
      deliveryWindow: { from: day(2), to: day(3) },
      rateCents: 150_000,
    })
  ).loadId!;
  await call(carrier, `/loads/${loadId}/book`, { carrierId });
  await call(carrier, `/loads/${loadId}/assignment`, { driverId: drivers[i], truckId: `T-${i}` });
  loads[i] = loadId;
});
await settle();
const driverTokens = await Promise.all(drivers.map((d) => sign(d, carrierOrg, ['driver'])));
process.stdout.write(`set up in ${((Date.now() - t0) / 1000).toFixed(0)} s; connecting ${DASHBOARDS} dashboards…\n`);

// Dashboards: each follows one truck. Acks of appended batches, keyed by load and last fix time.
const ackedAt = new Map<string, number>();
const socketLatency: number[] = [];
const sockets: Socket[] = [];
let messages = 0;
await inParallel([...Array(DASHBOARDS).keys()], 50, async (i) => {
  const s = connect(base, { transports: ['websocket'], auth: { token: shipper }, reconnection: false, forceNew: true });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  s.on('location', (m: { loadId: string; fix: { recordedAt: string } }) => {
    messages++;
    const at = ackedAt.get(`${m.loadId}|${m.fix.recordedAt}`);
    if (at !== undefined) socketLatency.push(performance.now() - at);
  });
  const ack = (await s.timeout(10_000).emitWithAck('subscribe', { room: `tracking:${loads[i]}` })) as { ok: boolean };
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
});

let seq = 0;
/** One batch of pings for truck i, the last one taken now (its time names the batch). */
function batchOf(i: number, size: number) {
  const now = Date.now();
  return Array.from({ length: size }, (_, k) => ({
    id: randomUUID(),
    lat: 29 + (i % 100) * 0.05 + (seq++ % 1000) * 1e-5,
    lng: -98 + Math.floor(i / 100) * 0.05,
    speedMph: 55,
    headingDeg: 90,
    accuracyM: 5,
    recordedAt: new Date(now - (size - 1 - k) * 50).toISOString(),
  }));
}
async function send(i: number, size = BATCH): Promise<{ ms: number; last: string; ackAt: number }> {
  const pings = batchOf(i, size);
  const t = performance.now();
  const res = await fetch(`${base}/tracking/pings`, { method: 'POST', headers: { authorization: `Bearer ${driverTokens[i]}`, 'content-type': 'application/json' }, body: JSON.stringify({ loadId: loads[i], pings }) });
  const body = (await res.json()) as { accepted?: number };
  if (res.status !== 202 || body.accepted !== size) throw new Error(`pings: ${res.status} ${JSON.stringify(body)}`);
  const ackAt = performance.now();
  return { ms: ackAt - t, last: pings[size - 1]!.recordedAt, ackAt };
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

// 1. Saturation.
process.stdout.write(`saturation: ${SENDERS} senders, ${BATCH} pings a request, ${SECONDS} s…\n`);
const satLatency: number[] = [];
let satPings = 0;
const satEnd = Date.now() + SECONDS * 1_000;
const satStart = performance.now();
await Promise.all(
  Array.from({ length: SENDERS }, async (_, w) => {
    for (let k = w; Date.now() < satEnd; k += SENDERS) {
      const r = await send(k % TRUCKS);
      satLatency.push(r.ms);
      satPings += BATCH;
    }
  }),
);
const satSeconds = (performance.now() - satStart) / 1_000;
await settle();

// 2. Paced, with latencies. A separate Redis client polls the latest fix of sampled batches.
process.stdout.write(`paced: ${TRUCKS} trucks, ${PACED_BATCH} pings each every ${PACE_MS} ms, ${SECONDS} s…\n`);
const redis = new Redis(services.redisUrl, { keyPrefix: prefix });
const redisLatency: number[] = [];
socketLatency.length = 0;
messages = 0;
let pacedPings = 0;
const pacedLatency: number[] = [];
const pacedEnd = Date.now() + SECONDS * 1_000;
const pacedStart = performance.now();
await Promise.all(
  Array.from({ length: TRUCKS }, async (_, i) => {
    await new Promise((r) => setTimeout(r, Math.random() * PACE_MS));
    for (let n = 0; Date.now() < pacedEnd; n++) {
      const started = Date.now();
      const r = await send(i, PACED_BATCH);
      ackedAt.set(`${loads[i]}|${r.last}`, r.ackAt);
      pacedLatency.push(r.ms);
      pacedPings += PACED_BATCH;
      if (i % 10 === 0) {
        const want = Date.parse(r.last);
        for (;;) {
          const got = Number(await redis.hget(`trk:load:${loads[i]}`, 'recordedAt'));
          if (got >= want) break;
          await new Promise((res) => setImmediate(res));
        }
        redisLatency.push(performance.now() - r.ackAt);
      }
      await new Promise((res) => setTimeout(res, Math.max(0, PACE_MS - (Date.now() - started))));
    }
  }),
);
const pacedSeconds = (performance.now() - pacedStart) / 1_000;
await new Promise((r) => setTimeout(r, 2_000));

const f = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1));
const lines = [
  '# GPS tracking benchmark',
  '',
  `${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · the service in its own process (all roles), the load generator and ${DASHBOARDS} Socket.IO dashboards in this one · ${TRUCKS} trucks (a driver, a booked and assigned load each) · ${BATCH} pings per request at saturation`,
  '',
  '| measure | value | aim (issue 8) |',
  '|---|---|---|',
  `| sustained ingest, ${SENDERS} concurrent senders (pings/s) | ${Math.round(satPings / satSeconds).toLocaleString('en-US')} | ≥ 20,000 |`,
  `| POST /tracking/pings at saturation, p50 / p99 (ms) | ${f(pct(satLatency, 50))} / ${f(pct(satLatency, 99))} | |`,
  `| paced: ${TRUCKS} trucks, ${PACED_BATCH} pings each per ${PACE_MS / 1000} s (pings/s) | ${Math.round(pacedPings / pacedSeconds).toLocaleString('en-US')} | |`,
  `| POST /tracking/pings paced, p50 / p99 (ms) | ${f(pct(pacedLatency, 50))} / ${f(pct(pacedLatency, 99))} | |`,
  `| append (202) → latest fix in Redis, p50 / p99 (ms; ${redisLatency.length} samples) | ${f(pct(redisLatency, 50))} / ${f(pct(redisLatency, 99))} | p99 ≤ 50 |`,
  `| append (202) → dashboard's location message, p50 / p99 (ms; ${socketLatency.length} of ${messages} messages matched) | ${f(pct(socketLatency, 50))} / ${f(pct(socketLatency, 99))} | p99 ≤ 100 |`,
];
const report = `${lines.join('\n')}\n`;
process.stdout.write(`\n${report}`);
await writeFile(new URL('./reports/tracking.md', import.meta.url), report);

for (const s of sockets) s.disconnect();
redis.disconnect();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await services.stop();
process.exit(0);
