/**
 * `npm run bench:eventstore`: the Postgres event store's hot paths beside raw-`pg` ceilings
 * measured in the same run, on the same database (see ../shared/LIMITS.md). Prints a table and
 * writes it to bench/reports/eventstore.md. A benchmark, not a test: it asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { PostgresEventStore } from '../src/eventstore/postgres/store.js';
import type { EventData } from '../src/eventstore/types.js';
import { loadConfig } from '../src/infra/config.js';
import { createKnex, dropDatabase, ensureDatabase } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { migrateLatest } from '../src/infra/migrate.js';
import { startServices } from '../src/infra/services.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
// Medians of RUNS runs: a commit costs a disk flush, and flush times wander from run to run.
const RUNS = Number(process.env.BENCH_RUNS ?? '3');


const n = (x: number) => Math.max(1, Math.round(x * SCALE));

interface Row {
  case: string;
  ours: number;
  unit: string;
  ceiling?: string;
  ceilingValue?: number;
  target?: string;
}

const payload = () => ({
  loadId: randomUUID(),
  lat: 30.2672 + Math.random(),
  lng: -97.7431 - Math.random(),
  speedMph: 55.5,
  heading: 270,
  recordedAt: new Date().toISOString(),
  note: 'flatbed, 48 ft, tarps required',
});
const event = (): EventData => ({ id: randomUUID(), type: 'BenchEvent', data: payload(), metadata: { correlationId: randomUUID() } });

async function timed(fn: () => Promise<number>): Promise<number> {
  const started = process.hrtime.bigint();
  const count = await fn();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return count / seconds;
}

async function parallel(writers: number, perWriter: number, fn: (writer: number, i: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) await fn(w, i);
    }),
  );
}

/** The same table shape and indexes as es_events, written with plain INSERTs. */
async function rawTable(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`
    drop table if exists raw_events;
    create table raw_events (like es_events including defaults including indexes);
  `);
  await c.end();
}

/** Next revision per raw stream, across all raw cases of the run. */
const revisions = new Map<string, number>();

async function rawInsert(pool: pg.Pool, writers: number, perWriter: number, rowsPerInsert: number): Promise<number> {
  const cols = 8;
  const values = Array.from({ length: rowsPerInsert }, (_, r) => `(pg_current_xact_id(), ${Array.from({ length: cols - 1 }, (_, c) => `$${r * (cols - 1) + c + 1}`).join(', ')})`).join(', ');
  const text = `insert into raw_events (tx_id, stream_id, revision, id, type, data, metadata, created_at) values ${values}`;
  return timed(async () => {
    await parallel(writers, perWriter, async (w) => {
      const stream = `raw-${w}`;
      const params: unknown[] = [];
      for (let r = 0; r < rowsPerInsert; r++) {
        const rev = revisions.get(stream) ?? 0;
        revisions.set(stream, rev + 1);
        const e = event();
        params.push(stream, rev, e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata), new Date());
      }
      await pool.query({ name: `raw-${rowsPerInsert}`, text, values: params });
    });
    return writers * perWriter * rowsPerInsert;
  });
}

async function appendBench(store: PostgresEventStore, writers: number, perWriter: number, eventsPerAppend: number): Promise<number> {
  return timed(async () => {
    await parallel(writers, perWriter, async (w, i) => {
      await store.append(`bench-${w}-${i % 50}`, Array.from({ length: eventsPerAppend }, event));
    });
    return writers * perWriter * eventsPerAppend;
  });
}

async function readAllBench(store: PostgresEventStore): Promise<{ rate: number; total: number }> {
  let total = 0;
  const rate = await timed(async () => {
    let from: Parameters<typeof store.readAll>[0] extends infer O ? (O extends { fromPosition?: infer P } ? P : never) : never = 'start';
    for (;;) {
      const page = await store.readAll({ fromPosition: from, maxCount: 1000 });
      if (page.length === 0) break;
      total += page.length;
      from = page[page.length - 1]!.position;
    }
    return total;
  });
  return { rate, total };
}

async function rawReadBench(pool: pg.Pool): Promise<number> {
  return timed(async () => {
    let total = 0;
    let last: [string, string] = ['0', '0'];
    for (;;) {
      const { rows } = await pool.query<{ tx: string; seq: string }>(
        `select tx_id::text as tx, seq, stream_id, revision, id, type, data, metadata, created_at
           from es_events where (tx_id, seq) > ($1::xid8, $2::bigint) order by tx_id, seq limit 1000`,
        last,
      );
      if (rows.length === 0) return total;
      total += rows.length;
      const l = rows[rows.length - 1]!;
      last = [l.tx, l.seq];
    }
  });
}

/**
 * Delivery latency to a subscriber of another store instance (as in a projector process: woken by
 * NOTIFY, not in-process), from the append's acknowledgement and from the append call.
 */
async function subscriptionLatency(
  writer: PostgresEventStore,
  reader: PostgresEventStore,
  count: number,
  intervalMs: number,
): Promise<{ fromAck: number[]; fromCall: number[] }> {
  const prefix = `lat${randomUUID().slice(0, 8)}-`;
  const called = new Map<string, bigint>();
  const acked = new Map<string, bigint>();
  const received = new Map<string, bigint>();
  const sub = reader.subscribeToAll({ fromPosition: 'end', filter: { streamPrefixes: [prefix] } });
  const done = (async () => {
    for await (const e of sub) {
      received.set(e.id, process.hrtime.bigint());
      if (received.size >= count) break;
    }
  })();
  await reader.notifier.start();
  await new Promise((r) => setTimeout(r, 300));
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const e = event();
    called.set(e.id, process.hrtime.bigint());
    appends.push(writer.append(`${prefix}${i % 20}`, [e]).then(() => acked.set(e.id, process.hrtime.bigint())));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(appends);
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  await sub.close();
  const ms = (from: Map<string, bigint>) =>
    [...received].map(([id, t]) => Math.max(0, Number(t - from.get(id)!) / 1e6)).sort((a, b) => a - b);
  return { fromAck: ms(acked), fromCall: ms(called) };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');

async function main() {
  const logger = createLogger({ LOG_LEVEL: 'warn', NODE_ENV: 'development' });
  const config = loadConfig();
  const services = await startServices(config, logger, { ephemeral: true });
  const dbName = `bench_${process.pid}`;
  const url = await ensureDatabase(services.databaseUrl, dbName);
  const knex = createKnex(url, 2);
  await migrateLatest(knex);
  await knex.destroy();
  await rawTable(url);
  const pool1 = new pg.Pool({ connectionString: url, max: 1 });
  const pool8 = new pg.Pool({ connectionString: url, max: 8 });
  const store = new PostgresEventStore({
    databaseUrl: url,
    poolMax: 10,
    ...(process.env.BENCH_MAX_BATCH ? { maxBatch: Number(process.env.BENCH_MAX_BATCH) } : {}),
  });
  const rows: Row[] = [];
  try {
    // Warm up connections, prepared statements and caches.
    await appendBench(store, 8, n(50), 1);
    await rawInsert(pool8, 8, n(50), 1);

    // Each case alternates raw and ours, RUNS times, so both meet the same table sizes and disk.
    const pair = async (ours: () => Promise<number>, raw: () => Promise<number>) => {
      const o: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        r.push(await raw());
        o.push(await ours());
      }
      const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      return { ours: mid(o), ceilingValue: mid(r) };
    };
    const cases: { name: string; writers: number; per: number; size: number; rawConns: 1 | 8; rawPer: number; target?: string }[] = [
      { name: 'append, 1 event, 1 writer', writers: 1, per: 3000, size: 1, rawConns: 1, rawPer: 3000 },
      { name: 'append, 1 event, 8 writers', writers: 8, per: 2000, size: 1, rawConns: 8, rawPer: 2000 },
      { name: 'append, 1 event, 32 writers', writers: 32, per: 1000, size: 1, rawConns: 8, rawPer: 2000, target: '≥ 1.5×' },
      { name: 'append, 100 events, 1 writer', writers: 1, per: 300, size: 100, rawConns: 1, rawPer: 300, target: '≥ 0.9×' },
      { name: 'append, 100 events, 8 writers', writers: 8, per: 150, size: 100, rawConns: 8, rawPer: 150, target: '≥ 0.9×' },
      { name: 'append, 100 events, 32 writers', writers: 32, per: 40, size: 100, rawConns: 8, rawPer: 150, target: '≥ 0.9×' },
    ];
    for (const c of cases) {
      const pool = c.rawConns === 1 ? pool1 : pool8;
      const r = await pair(
        () => appendBench(store, c.writers, n(c.per), c.size),
        () => rawInsert(pool, c.rawConns, n(c.rawPer), c.size),
      );
      rows.push({
        case: c.name,
        ...r,
        unit: 'events/s',
        ceiling: `${c.size === 1 ? 'single-row' : `${c.size}-row`} INSERT, ${c.rawConns} conn${c.rawConns > 1 ? 's' : ''}`,
        target: c.target,
      });
    }
    // Settle after the write phases (as autovacuum would): fresh statistics for the readers.
    await pool1.query('vacuum analyze es_events');
    const total = (await readAllBench(store)).total;
    const read = await pair(async () => (await readAllBench(store)).rate, () => rawReadBench(pool8));
    rows.push({ case: `readAll, pages of 1,000 (${fmt(total)} events)`, ...read, unit: 'events/s', ceiling: 'keyset SELECT on the primary key' });
    // Let the checkpoint that the write phases provoked finish first: its I/O is not the subscription's.
    await pool1.query('checkpoint').catch(() => {});
    const reader = new PostgresEventStore({ databaseUrl: url, poolMax: 4 });
    const lat = await subscriptionLatency(store, reader, n(1000), 2);
    await reader.close();
    rows.push({ case: 'subscription p50, append acknowledged → handler', ours: pct(lat.fromAck, 50), unit: 'ms' });
    rows.push({ case: 'subscription p99, append acknowledged → handler', ours: pct(lat.fromAck, 99), unit: 'ms', target: '≤ 20 ms' });
    rows.push({ case: 'subscription p50, append called → handler', ours: pct(lat.fromCall, 50), unit: 'ms' });
    rows.push({ case: 'subscription p99, append called → handler', ours: pct(lat.fromCall, 99), unit: 'ms', target: '≤ 20 ms' });
  } finally {
    await store.close();
    await pool1.end();
    await pool8.end();
    await dropDatabase(services.databaseUrl, dbName).catch(() => {});
    await services.stop();
  }

  const header = ['case', 'ours', 'unit', 'raw ceiling (same run)', 'ceiling', 'ratio', 'target'];
  const body = rows.map((r) => [
    r.case,
    r.unit === 'ms' ? r.ours.toFixed(1) : fmt(r.ours),
    r.unit,
    r.ceiling ?? '',
    r.ceilingValue ? fmt(r.ceilingValue) : '',
    r.ceilingValue ? `${(r.ours / r.ceilingValue).toFixed(2)}×` : '',
    r.target ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const table = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
  const where = `${os.cpus().length} cores, Node ${process.version}, Postgres at ${new URL(services.databaseUrl).host}${config.DATABASE_URL ? '' : ' (embedded)'}, scale ${SCALE}, median of ${RUNS} runs per throughput case`;
  const report = `# Event store benchmark\n\n${new Date().toISOString()} — ${where}\n\n${table}\n`;
  console.log(report);
  await writeFile(new URL('./reports/eventstore.md', import.meta.url), report);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
