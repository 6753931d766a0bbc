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
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { inParallel, pct, setupFleet, startService } from './support.js';

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

const t0 = Date.now();
const svc = await startService('bench_tracking');
const { base, services, prefix } = svc;
process.stdout.write(`setting up ${TRUCKS} trucks…\n`);
const { shipper, loads, driverTokens } = await setupFleet(svc, TRUCKS);
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
await svc.settle();

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
await svc.stop();
process.exit(0);
