/**
 * Scenario 6, fan-out: Socket.IO messages/s delivered to 1,000 and 10,000 connected dashboards,
 * and the p99 from broadcast to delivery, for our path and for raw Socket.IO.
 *
 * Ours: the service as its own process (all roles, as `npm start`); the dashboards sign in with a
 * carrier's token and subscribe to the open load board; messages go out as the projector sends
 * them, through our RedisBroadcaster (Redis pub/sub, the Socket.IO emitter) to the board rooms of a
 * TX flatbed load, and the service's adapter hands them to its sockets.
 * Raw (the ceiling): a bare Socket.IO server in its own process, the same clients in one room, and
 * the message sent by a controlling socket (`bench/lib/raw-socketio.ts`).
 *
 * Closed loop: a few broadcasts in flight at a time, the next sent as soon as one has reached
 * every client, for a fixed time; delivered messages ÷ time, latency of every delivery. The
 * dashboards live in this process, so both sides pay the same for receiving.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { channelKey, RedisBroadcaster } from '../../src/realtime/broadcaster.js';
import { boardRoomsOf } from '../../src/realtime/rooms.js';
import { percentile, type Row } from '../lib/report.js';
import { inParallel, setupFleet, startService } from '../support.js';
import type { ScenarioContext } from './context.js';

interface Shot {
  perSecond: number;
  p99: number;
  missing: number;
}

/** A load message as the board sends it (about 700 bytes of JSON). */
const message = (seq: number, t: number) => ({
  position: `${1_000_000 + seq}/1`,
  loadId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
  status: 'posted',
  load: {
    reference: `BENCH-${seq}`,
    commodity: 'Crushed stone',
    equipmentType: 'flatbed',
    loadSize: 'full',
    weightLb: 40_000,
    lengthFt: 40,
    origin: { city: 'Austin', state: 'TX', zip: '78701', lat: 30.27, lng: -97.74 },
    destination: { city: 'Dallas', state: 'TX', zip: '75201', lat: 32.78, lng: -96.8 },
    pickupWindow: { from: '2026-12-01T08:00:00.000Z', to: '2026-12-01T12:00:00.000Z' },
    deliveryWindow: { from: '2026-12-01T16:00:00.000Z', to: '2026-12-01T20:00:00.000Z' },
    rateCents: 150_000,
    distanceMi: 195,
    ratePerMileCents: 769,
    shipperName: 'Bench Aggregates',
    postedAt: '2026-11-23T08:00:00.000Z',
  },
  correlationId: '7c0e8a3e-5d2b-4a51-9a43-2f5d1d1b9c11',
  bench: { seq, t },
});

/**
 * Keeps `window` broadcasts in flight for `seconds`; a broadcast is done when every client has it
 * (or after 10 s, its missing deliveries counted).
 */
async function measure(
  clients: Socket[],
  fire: (seq: number, t: number) => void,
  seconds: number,
  window = 4,
): Promise<Shot> {
  const n = clients.length;
  const latencies: number[] = [];
  const waiting = new Map<number, { got: number; done: () => void }>();
  const onLoad = (m: { bench?: { seq: number; t: number } }) => {
    if (!m.bench) return;
    latencies.push(performance.now() - m.bench.t);
    const w = waiting.get(m.bench.seq);
    if (w && ++w.got === n) w.done();
  };
  for (const c of clients) c.on('load', onLoad);
  let seq = 0;
  let missing = 0;
  const started = performance.now();
  const end = started + seconds * 1_000;
  try {
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (performance.now() < end) {
          const s = seq++;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              missing += n - (waiting.get(s)?.got ?? 0);
              waiting.delete(s);
              resolve();
            }, 10_000);
            waiting.set(s, {
              got: 0,
              done: () => {
                clearTimeout(timer);
                waiting.delete(s);
                resolve();
              },
            });
            fire(s, performance.now());
          });
        }
      }),
    );
  } finally {
    for (const c of clients) c.off('load', onLoad);
  }
  const elapsed = (performance.now() - started) / 1_000;
  return {
    perSecond: latencies.length / elapsed,
    p99: percentile(
      latencies.sort((a, b) => a - b),
      99,
    ),
    missing,
  };
}

async function connectAll(n: number, url: string, auth: Record<string, string>, subscribe?: object): Promise<Socket[]> {
  const sockets: Socket[] = [];
  await inParallel([...Array(n).keys()], 100, async () => {
    const s = connect(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
    sockets.push(s);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
    if (subscribe) {
      const ack = (await s.timeout(30_000).emitWithAck('subscribe', subscribe)) as { ok: boolean };
      if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
    }
  });
  return sockets;
}

async function rawServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../lib/raw-socketio.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`raw Socket.IO exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

export async function fanoutScenario(ctx: ScenarioContext): Promise<Row[]> {
  const sizes = ctx.quick ? [100, 300] : [1_000, 10_000];
  const seconds = ctx.quick ? 2 : 10;
  const svc = await startService(ctx.quick ? 'bench_fanout_quick' : 'bench_fanout');
  const raw = await rawServer();
  const redis = new Redis(svc.services.redisUrl);
  const broadcaster = new RedisBroadcaster(redis, channelKey(svc.prefix));
  const rooms = boardRoomsOf('TX', 'flatbed');
  const rows: Row[] = [];
  try {
    const fleet = await setupFleet(svc, 0);
    const control = await connectAll(1, raw.url, { role: 'control' });
    for (const n of sizes) {
      const ours: Shot[] = [];
      const bare: Shot[] = [];
      // One side's clients at a time (20,000 sockets at once would crowd the ports and descriptors).
      let clients = await connectAll(n, svc.base, { token: fleet.carrier }, { room: 'loadboard' });
      await measure(clients, (s, t) => broadcaster.emit(rooms, 'load', message(s, t)), 1);
      for (let run = 0; run < ctx.runs; run++)
        ours.push(await measure(clients, (s, t) => broadcaster.emit(rooms, 'load', message(s, t)), seconds));
      for (const c of clients) c.disconnect();
      clients = await connectAll(n, raw.url, { role: 'client' });
      await measure(clients, (s, t) => control[0]!.emit('fire', message(s, t)), 1);
      for (let run = 0; run < ctx.runs; run++)
        bare.push(await measure(clients, (s, t) => control[0]!.emit('fire', message(s, t)), seconds));
      for (const c of clients) c.disconnect();
      ctx.log(
        `fan-out to ${n}: ours ${ours.map((x) => Math.round(x.perSecond)).join(', ')}/s; raw ${bare.map((x) => Math.round(x.perSecond)).join(', ')}/s`,
      );
      const missing = (xs: Shot[]) => xs.reduce((a, x) => a + x.missing, 0);
      rows.push(
        {
          scenario: 'fan-out',
          case: `messages delivered to ${n.toLocaleString('en-US')} dashboards`,
          unit: 'msgs/s',
          better: 'higher',
          ours: ours.map((x) => x.perSecond),
          ceiling: { name: 'raw Socket.IO broadcast', values: bare.map((x) => x.perSecond) },
          aims: [{ of: 'ceiling', atLeast: 0.8 }],
          note: `4 broadcasts in flight, each to every dashboard; ${missing(ours)} deliveries missing after 10 s (ours), ${missing(bare)} (raw)`,
        },
        {
          scenario: 'fan-out',
          case: `broadcast → delivery p99, ${n.toLocaleString('en-US')} dashboards`,
          unit: 'ms',
          better: 'lower',
          ours: ours.map((x) => x.p99),
          ceiling: { name: 'raw Socket.IO broadcast', values: bare.map((x) => x.p99) },
        },
      );
    }
    for (const c of control) c.disconnect();
    return rows;
  } finally {
    redis.disconnect();
    raw.child.kill('SIGTERM');
    await svc.stop();
  }
}
