/**
 * Scenario 4, GPS ingest end to end. The service runs as its own process (all roles, as
 * `npm start`) on a fresh database; one load per truck is set up through the API (a driver each,
 * booked and assigned) and dashboards follow one truck each over Socket.IO. Per run:
 *   1. saturation: concurrent senders post batches as fast as the service takes them → pings/s;
 *   2. paced, below saturation: every truck sends a batch of 5 pings every 5 s (a phone that records
 *      a fix a second and uploads every 5 s; above the 1 s location throttle, so a dashboard hears
 *      each batch at once) → latency from the append's 202 to the fix in Redis (sampled by polling
 *      Redis) and to the dashboard's `location` message, and how long the request took to answer.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { io as connect, type Socket } from 'socket.io-client';
import { percentile, type Row } from '../lib/report.js';
import { inParallel, setupFleet, startService } from '../support.js';
import type { ScenarioContext } from './context.js';

export async function gpsScenario(ctx: ScenarioContext): Promise<Row[]> {
  const trucks = ctx.quick ? 20 : 1_000;
  const seconds = ctx.quick ? 2 : 15;
  const senders = 32;
  const batch = 20;
  const paceMs = ctx.quick ? 1_000 : 5_000;
  const pacedBatch = 5;
  const svc = await startService(ctx.quick ? 'bench_gps_quick' : 'bench_gps');
  const sockets: Socket[] = [];
  const redis = new Redis(svc.services.redisUrl, { keyPrefix: svc.prefix });
  try {
    const t0 = Date.now();
    const { shipper, loads, driverTokens } = await setupFleet(svc, trucks);
    ctx.log(`gps: ${trucks} trucks set up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    // Dashboards: each follows one truck. Acks of appended batches, keyed by load and last fix time.
    const ackedAt = new Map<string, number>();
    let socketLatency: number[] = [];
    await inParallel([...Array(trucks).keys()], 50, async (i) => {
      const s = connect(svc.base, {
        transports: ['websocket'],
        auth: { token: shipper },
        reconnection: false,
        forceNew: true,
      });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
      s.on('location', (m: { loadId: string; fix: { recordedAt: string } }) => {
        const at = ackedAt.get(`${m.loadId}|${m.fix.recordedAt}`);
        if (at !== undefined) socketLatency.push(performance.now() - at);
      });
      const ack = (await s.timeout(10_000).emitWithAck('subscribe', { room: `tracking:${loads[i]}` })) as {
        ok: boolean;
      };
      if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
    });

    let seq = 0;
    /** One batch of pings for truck i, the last one taken now (its time names the batch). */
    const batchOf = (i: number, size: number) => {
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
    };
    const send = async (i: number, size: number) => {
      const pings = batchOf(i, size);
      const t = performance.now();
      const res = await fetch(`${svc.base}/tracking/pings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${driverTokens[i]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ loadId: loads[i], pings }),
      });
      const body = (await res.json()) as { accepted?: number };
      if (res.status !== 202 || body.accepted !== size) throw new Error(`pings: ${res.status} ${JSON.stringify(body)}`);
      const ackAt = performance.now();
      return { ms: ackAt - t, last: pings[size - 1]!.recordedAt, ackAt };
    };

    const out = {
      rate: [] as number[],
      satP99: [] as number[],
      requestP50: [] as number[],
      requestP95: [] as number[],
      redisP50: [] as number[],
      redisP99: [] as number[],
      socketP50: [] as number[],
      socketP99: [] as number[],
    };
    let samples = { requests: 0, redis: 0, socket: 0 };
    const ms = (x: number) => x.toFixed(1);
    for (let run = 0; run < ctx.runs; run++) {
      // 1. Saturation.
      const satLatency: number[] = [];
      let satPings = 0;
      const satEnd = Date.now() + seconds * 1_000;
      const satStart = performance.now();
      await Promise.all(
        Array.from({ length: senders }, async (_, w) => {
          for (let k = w; Date.now() < satEnd; k += senders) {
            const r = await send(k % trucks, batch);
            satLatency.push(r.ms);
            satPings += batch;
          }
        }),
      );
      out.rate.push(satPings / ((performance.now() - satStart) / 1_000));
      out.satP99.push(
        percentile(
          satLatency.sort((a, b) => a - b),
          99,
        ),
      );
      await svc.settle();

      // 2. Paced, with latencies. A separate Redis client polls the latest fix of every tenth truck.
      const redisLatency: number[] = [];
      const requestLatency: number[] = [];
      socketLatency = [];
      const pacedEnd = Date.now() + seconds * 1_000;
      await Promise.all(
        Array.from({ length: trucks }, async (_, i) => {
          await new Promise((r) => setTimeout(r, Math.random() * paceMs));
          while (Date.now() < pacedEnd) {
            const started = Date.now();
            const r = await send(i, pacedBatch);
            requestLatency.push(r.ms);
            ackedAt.set(`${loads[i]}|${r.last}`, r.ackAt);
            if (i % 10 === 0) {
              const want = Date.parse(r.last);
              for (;;) {
                const got = Number(await redis.hget(`trk:load:${loads[i]}`, 'recordedAt'));
                if (got >= want) break;
                await new Promise((res) => setImmediate(res));
              }
              redisLatency.push(performance.now() - r.ackAt);
            }
            await new Promise((res) => setTimeout(res, Math.max(0, paceMs - (Date.now() - started))));
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 2_000));
      redisLatency.sort((a, b) => a - b);
      requestLatency.sort((a, b) => a - b);
      out.requestP50.push(percentile(requestLatency, 50));
      out.requestP95.push(percentile(requestLatency, 95));
      const sl = [...socketLatency].sort((a, b) => a - b);
      out.redisP50.push(percentile(redisLatency, 50));
      out.redisP99.push(percentile(redisLatency, 99));
      out.socketP50.push(percentile(sl, 50));
      out.socketP99.push(percentile(sl, 99));
      samples = { requests: requestLatency.length, redis: redisLatency.length, socket: sl.length };
      ctx.log(
        `gps run ${run + 1}: ${Math.round(out.rate[run]!)} pings/s; paced p50/p95 request ${ms(out.requestP50[run]!)}/${ms(out.requestP95[run]!)}, p50/p99 Redis ${ms(out.redisP50[run]!)}/${ms(out.redisP99[run]!)}, socket ${ms(out.socketP50[run]!)}/${ms(out.socketP99[run]!)} ms`,
      );
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const where = `${trucks} trucks (a driver and a booked, assigned load each), ${trucks} dashboards following one truck each`;
    return [
      {
        scenario: 'GPS',
        case: `POST /tracking/pings sustained (${senders} senders, ${batch} pings a request)`,
        unit: 'pings/s',
        better: 'higher',
        ours: out.rate,
        aims: [{ value: 20_000 }],
        note: `${where}; request p99 at saturation ${med(out.satP99).toFixed(1)} ms; the service runs every role in one process`,
      },
      {
        scenario: 'GPS',
        case: `POST /tracking/pings answered (${pacedBatch} pings), p95`,
        unit: 'ms',
        better: 'lower',
        ours: out.requestP95,
        aims: [{ value: 150, atMost: true }],
        note: `paced (${pacedBatch} pings per truck every ${paceMs / 1000} s), from sending the request to its 202 read; p50 ${med(out.requestP50).toFixed(1)} ms; ${samples.requests} requests in the last run`,
      },
      {
        scenario: 'GPS',
        case: 'append (202) → latest fix in Redis, p99',
        unit: 'ms',
        better: 'lower',
        ours: out.redisP99,
        aims: [{ value: 50, atMost: true }],
        note: `paced (${pacedBatch} pings per truck every ${paceMs / 1000} s); p50 ${med(out.redisP50).toFixed(1)} ms; ${samples.redis} samples in the last run`,
      },
      {
        scenario: 'GPS',
        case: "append (202) → dashboard's location message, p99",
        unit: 'ms',
        better: 'lower',
        ours: out.socketP99,
        aims: [{ value: 100, atMost: true }],
        note: `paced, as above; p50 ${med(out.socketP50).toFixed(1)} ms; ${samples.socket} messages matched in the last run`,
      },
    ];
  } finally {
    for (const s of sockets) s.disconnect();
    redis.disconnect();
    await svc.stop();
  }
}
