/**
 * `npm run loadtest [-- --seconds 20 --trucks 200 --dashboards 200]`: a realistic mix against a
 * running service, driven by autocannon: carriers browsing the load board and opening loads,
 * shippers posting loads, drivers' phones sending GPS pings, while dispatch dashboards stay
 * connected over Socket.IO. Starts the service as its own process on a fresh database (all roles,
 * rate limits off: one generator on one address), sets the data up through the API, runs every
 * route's load at once, then prints requests/s, p50/p95/p99 and errors per route and writes
 * bench/reports/loadtest.md. Measures; asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { io as connect, type Socket } from 'socket.io-client';
import { percentile } from './lib/report.js';
import { inParallel, loadBody, setupFleet, startService } from './support.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    trucks: { type: 'string', default: '200' },
    dashboards: { type: 'string', default: '200' },
  },
});
const SECONDS = Number(values.seconds);
const TRUCKS = Number(values.trucks);
const DASHBOARDS = Number(values.dashboards);

const svc = await startService('bench_loadtest');
process.stdout.write(`setting up ${TRUCKS} trucks…\n`);
const fleet = await setupFleet(svc, TRUCKS);
// Some posted loads to browse besides the booked ones.
await inParallel([...Array(500).keys()], 16, async (i) => {
  await svc.call(fleet.shipper, '/loads', loadBody(fleet.shipperOrg, 10_000 + i));
});
await svc.settle();

process.stdout.write(`connecting ${DASHBOARDS} dashboards…\n`);
const sockets: Socket[] = [];
let heard = 0;
await inParallel([...Array(DASHBOARDS).keys()], 50, async () => {
  const s = connect(svc.base, {
    transports: ['websocket'],
    auth: { token: fleet.carrier },
    reconnection: false,
    forceNew: true,
  });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  s.on('load', () => heard++);
  await s.timeout(10_000).emitWithAck('subscribe', { room: 'loadboard', states: ['TX'] });
});

interface Scenario {
  name: string;
  connections: number;
  request: () => { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };
}
const json = (tok: string) => ({ authorization: `Bearer ${tok}`, 'content-type': 'application/json' });
let n = 0;
const scenarios: Scenario[] = [
  {
    name: 'GET /loads (board: TX flatbed, best rate)',
    connections: 16,
    request: () => ({
      method: 'GET',
      path: '/loads?originStates=TX&equipment=flatbed&sort=rate&limit=25',
      headers: json(fleet.carrier),
    }),
  },
  {
    name: 'GET /loads/:id',
    connections: 8,
    request: () => ({
      method: 'GET',
      path: `/loads/${fleet.loads[n++ % fleet.loads.length]}`,
      headers: json(fleet.carrier),
    }),
  },
  {
    name: 'POST /loads',
    connections: 4,
    request: () => ({
      method: 'POST',
      path: '/loads',
      headers: { ...json(fleet.shipper), 'idempotency-key': randomUUID() },
      body: JSON.stringify(loadBody(fleet.shipperOrg, n++)),
    }),
  },
  {
    name: 'POST /tracking/pings (5 pings)',
    connections: 8,
    request: () => {
      const i = n++ % fleet.loads.length;
      const now = Date.now();
      const pings = Array.from({ length: 5 }, (_, k) => ({
        id: randomUUID(),
        lat: 29 + (i % 100) * 0.05 + k * 1e-4,
        lng: -98 + Math.floor(i / 100) * 0.05,
        speedMph: 55,
        headingDeg: 90,
        accuracyM: 5,
        recordedAt: new Date(now - (4 - k) * 1_000).toISOString(),
      }));
      return {
        method: 'POST',
        path: '/tracking/pings',
        headers: json(fleet.driverTokens[i]!),
        body: JSON.stringify({ loadId: fleet.loads[i], pings }),
      };
    },
  },
];

process.stdout.write(`running the mix for ${SECONDS} s…\n`);
const results = await Promise.all(
  scenarios.map(
    (sc) =>
      new Promise<{ name: string; latencies: number[]; ok: number; errors: number; seconds: number }>(
        (resolve, reject) => {
          const latencies: number[] = [];
          let ok = 0;
          let errors = 0;
          const first = sc.request();
          const instance = autocannon(
            {
              url: svc.base,
              connections: sc.connections,
              duration: SECONDS,
              requests: [{ ...first, setupRequest: (req) => ({ ...req, ...sc.request() }) }],
            },
            (err, result) =>
              err
                ? reject(err)
                : resolve({
                    name: sc.name,
                    latencies: latencies.sort((a, b) => a - b),
                    ok,
                    errors: errors + result.errors + result.timeouts,
                    seconds: result.duration,
                  }),
          );
          instance.on('response', (_client, status: number, _bytes: number, ms: number) => {
            latencies.push(ms);
            if (status >= 200 && status < 300) ok++;
            else errors++;
          });
        },
      ),
  ),
);

const f = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1));
const lines = [
  '# Load test',
  '',
  `${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · the service in its own process (all roles), autocannon and ${DASHBOARDS} Socket.IO dashboards in this one · ${TRUCKS} trucks, ${SECONDS} s, every route at once`,
  '',
  '| route | connections | requests/s | p50 ms | p95 ms | p99 ms | errors |',
  '|---|---|---|---|---|---|---|',
  ...results.map(
    (r, i) =>
      `| ${r.name} | ${scenarios[i]!.connections} | ${Math.round(r.ok / r.seconds).toLocaleString('en-US')} | ${f(percentile(r.latencies, 50))} | ${f(percentile(r.latencies, 95))} | ${f(percentile(r.latencies, 99))} | ${r.errors} |`,
  ),
  '',
  `Dashboards heard ${heard.toLocaleString('en-US')} load messages during the run.`,
];
const report = `${lines.join('\n')}\n`;
process.stdout.write(`\n${report}`);
await writeFile(new URL('./reports/loadtest.md', import.meta.url), report);
for (const s of sockets) s.disconnect();
await svc.stop();
process.exit(0);
