/**
 * Scenario 1: our Postgres event store beside Emmett's PostgreSQL event store (the peer, on the
 * same database in the same run) and raw `pg` INSERT / COPY into a table of es_events' shape (the
 * ceiling). Appends of 1 and 100 events from 1, 8 and 32 writers; reading everything in order
 * (checking each reader returned every event); subscription latency from another instance.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { dumbo } from '@event-driven-io/dumbo';
import {
  getPostgreSQLEventStore,
  postgreSQLEventStoreMessageBatchPuller,
  readMessagesBatch,
} from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import type { EventData } from '../../src/eventstore/types.js';
import { createKnex, createPgPool, dropDatabase, ensureDatabase } from '../../src/infra/db.js';
import { migrateLatest } from '../../src/infra/migrate.js';
import { percentile, type Row } from '../lib/report.js';
import type { ScenarioContext } from './context.js';

// Its package.json is not exported: read the installed one.
export const emmettVersion = (
  JSON.parse(
    readFileSync(
      new URL('../../node_modules/@event-driven-io/emmett-postgresql/package.json', import.meta.url),
      'utf8',
    ),
  ) as { version: string }
).version;

const payload = () => ({
  loadId: randomUUID(),
  lat: 30.2672 + Math.random(),
  lng: -97.7431 - Math.random(),
  speedMph: 55.5,
  heading: 270,
  recordedAt: new Date().toISOString(),
  note: 'flatbed, 48 ft, tarps required',
});
const event = (): EventData => ({
  id: randomUUID(),
  type: 'BenchEvent',
  data: payload(),
  metadata: { correlationId: randomUUID() },
});

async function rate(fn: () => Promise<number>): Promise<number> {
  const started = process.hrtime.bigint();
  const count = await fn();
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function writers(n: number, each: number, fn: (writer: number, i: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async (_, w) => {
      for (let i = 0; i < each; i++) await fn(w, i);
    }),
  );
}

/** Raw writers: the same table shape and indexes as es_events, plain statements. */
class Raw {
  /** Next revision per raw stream, shared by every raw writer of the run. */
  private static readonly revisions = new Map<string, number>();
  private readonly revisions = Raw.revisions;
  constructor(private readonly pool: pg.Pool) {}

  static async create(url: string, conns: number): Promise<Raw> {
    const pool = createPgPool(url, conns);
    await pool.query(`
      drop table if exists raw_events;
      create table raw_events (like es_events including defaults including indexes);
      -- COPY sends no expression: the transaction id comes from the default, as our append's function sets it.
      alter table raw_events alter column tx_id set default pg_current_xact_id();
    `);
    return new Raw(pool);
  }

  private rows(stream: string, count: number): unknown[][] {
    return Array.from({ length: count }, () => {
      const rev = this.revisions.get(stream) ?? 0;
      this.revisions.set(stream, rev + 1);
      const e = event();
      return [stream, rev, e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata), new Date()];
    });
  }

  insert(conns: number, each: number, size: number): Promise<number> {
    const values = Array.from(
      { length: size },
      (_, r) => `(pg_current_xact_id(), ${Array.from({ length: 7 }, (_, c) => `$${r * 7 + c + 1}`).join(', ')})`,
    ).join(', ');
    const text = `insert into raw_events (tx_id, stream_id, revision, id, type, data, metadata, created_at) values ${values}`;
    return rate(async () => {
      await writers(conns, each, async (w) => {
        await this.pool.query({ name: `raw-${size}`, text, values: this.rows(`raw-${w}`, size).flat() });
      });
      return conns * each * size;
    });
  }

  /** COPY FROM STDIN of `size` rows per COPY (its own transaction, as an append would be). */
  copy(conns: number, each: number, size: number): Promise<number> {
    const esc = (v: unknown) =>
      String(v instanceof Date ? v.toISOString() : v)
        .replace(/\\/g, '\\\\')
        .replace(/\t/g, '\\t')
        .replace(/\n/g, '\\n');
    return rate(async () => {
      await writers(conns, each, async (w) => {
        const client = await this.pool.connect();
        try {
          const lines = this.rows(`copy-${w}`, size).map((r) => `${r.map(esc).join('\t')}\n`);
          await pipeline(
            Readable.from(lines),
            client.query(
              copyFrom('copy raw_events (stream_id, revision, id, type, data, metadata, created_at) from stdin'),
            ),
          );
        } finally {
          client.release();
        }
      });
      return conns * each * size;
    });
  }

  /** Everything in es_events by keyset pages of 1,000 on the primary key, as our reader orders it. */
  async readEs(): Promise<{ rate: number; count: number }> {
    let count = 0;
    const r = await rate(async () => {
      let last: [string, string] = ['0', '0'];
      for (;;) {
        const { rows } = await this.pool.query<{ tx: string; seq: string }>(
          `select tx_id::text as tx, seq, stream_id, revision, id, type, data, metadata, created_at
             from es_events where (tx_id, seq) > ($1::xid8, $2::bigint) order by tx_id, seq limit 1000`,
          last,
        );
        if (rows.length === 0) return count;
        count += rows.length;
        const l = rows[rows.length - 1]!;
        last = [l.tx, l.seq];
      }
    });
    return { rate: r, count };
  }

  close() {
    return this.pool.end();
  }
}

/** Delivery latency (ms) from the append's acknowledgement to a subscriber in another instance. */
async function ourLatency(
  writer: PostgresEventStore,
  url: string,
  count: number,
  intervalMs: number,
  afterAppends?: () => Promise<void>,
): Promise<number[]> {
  const reader = new PostgresEventStore({ databaseUrl: url, poolMax: 4 });
  const prefix = `lat${randomUUID().slice(0, 8)}-`;
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
    appends.push(writer.append(`${prefix}${i % 20}`, [e]).then(() => acked.set(e.id, process.hrtime.bigint())));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(appends);
  await afterAppends?.();
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  await sub.close();
  await reader.close();
  return [...received].map(([id, t]) => Math.max(0, Number(t - acked.get(id)!) / 1e6)).sort((a, b) => a - b);
}

/**
 * How often Emmett's append failed with a version conflict it was not asked to check. Two appends
 * that race to create a stream make its insert into the streams table hit the primary key, which
 * its append reports as a conflict (Postgres logs "duplicate key … emt_streams_emt_default_active_pkey");
 * a client retries, and so does the benchmark, with its time in the figures.
 */
let emmettRetries = 0;
async function appendRetrying(
  store: ReturnType<typeof getPostgreSQLEventStore>,
  stream: string,
  events: { type: string; data: Record<string, unknown> }[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.appendToStream(stream, events);
      return;
    } catch (err) {
      if ((err as { errorCode?: number }).errorCode !== 412 || attempt >= 5) throw err;
      emmettRetries++;
    }
  }
}

/** The same for Emmett: its message batch puller (what its consumers use), default pulling frequency. */
async function emmettLatency(
  store: ReturnType<typeof getPostgreSQLEventStore>,
  url: string,
  count: number,
  intervalMs: number,
  afterAppends?: () => Promise<void>,
): Promise<number[]> {
  const pool = dumbo({ connectionString: url });
  const prefix = `lat${randomUUID().slice(0, 8)}-`;
  const acked = new Map<string, bigint>();
  const received = new Map<string, bigint>();
  const abort = new AbortController();
  const puller = postgreSQLEventStoreMessageBatchPuller({
    executor: pool.execute,
    batchSize: 100,
    pullingFrequencyInMs: 50,
    signal: abort.signal,
    eachBatch: (messages) => {
      const now = process.hrtime.bigint();
      for (const m of messages)
        if ((m.metadata as { streamName: string }).streamName.startsWith(prefix))
          received.set((m.data as { id: string }).id, now);
    },
  });
  const running = puller.start({ startFrom: 'END', signal: abort.signal });
  await new Promise((r) => setTimeout(r, 300));
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    appends.push(
      appendRetrying(store, `${prefix}${i % 20}`, [{ type: 'BenchEvent', data: { id, ...payload() } }]).then(() =>
        acked.set(id, process.hrtime.bigint()),
      ),
    );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(appends);
  await afterAppends?.();
  const deadline = Date.now() + 10_000;
  while (received.size < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await puller.stop();
  abort.abort();
  await running.catch(() => {});
  await pool.close();
  return [...received].map(([id, t]) => Math.max(0, Number(t - acked.get(id)!) / 1e6)).sort((a, b) => a - b);
}

async function emmettReadAll(url: string): Promise<{ rate: number; count: number }> {
  const pool = dumbo({ connectionString: url });
  let count = 0;
  try {
    const r = await rate(async () => {
      let after = 0n;
      for (;;) {
        const b = await readMessagesBatch(pool.execute, { after, batchSize: 1000 });
        count += b.messages.length;
        if (b.messages.length === 0 || !b.areMessagesLeft) return count;
        after = b.messages[b.messages.length - 1]!.metadata.globalPosition;
      }
    });
    return { rate: r, count };
  } finally {
    await pool.close();
  }
}

export async function eventStoreScenario(ctx: ScenarioContext): Promise<Row[]> {
  const dbName = `bench_es_${process.pid}`;
  const url = await ensureDatabase(ctx.adminUrl, dbName);
  const knex = createKnex(url, 2);
  await migrateLatest(knex);
  await knex.destroy();
  const raw1 = await Raw.create(url, 1);
  // createPgPool: pool.end() resolves before its clients' backends have gone, and the closing
  // DROP DATABASE … WITH (FORCE) may terminate one of them; a bare pg.Pool emits that as an
  // unhandled 'error' and the run dies (seen once in CI).
  const raw8 = new Raw(createPgPool(url, 8));
  const ours = new PostgresEventStore({ databaseUrl: url, poolMax: 10 });
  const emmett = getPostgreSQLEventStore(url);
  await emmett.schema.migrate();
  const emmettAppend = (stream: string, events: { type: string; data: ReturnType<typeof payload> }[]) =>
    appendRetrying(emmett, stream, events);
  const scale = ctx.quick ? 0.02 : 1;
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const rows: Row[] = [];
  try {
    // Warm up connections, prepared statements and caches.
    await writers(8, n(50), (w, i) => ours.append(`warm-${w}-${i % 10}`, [event()]).then(() => {}));
    await raw8.insert(8, n(50), 1);
    await writers(8, n(20), (w, i) => emmettAppend(`warm-${w}-${i % 10}`, [{ type: 'BenchEvent', data: payload() }]));

    const cases = [
      { name: 'append 1 event, 1 writer', writers: 1, per: 3000, size: 1, rawConns: 1 },
      { name: 'append 1 event, 8 writers', writers: 8, per: 1000, size: 1, rawConns: 8 },
      {
        name: 'append 1 event, 32 writers',
        writers: 32,
        per: 400,
        size: 1,
        rawConns: 8,
        aim: [
          { of: 'ceiling' as const, atLeast: 1.5 },
          { of: 'peer' as const, atLeast: 6 },
        ],
      },
      { name: 'append 100 events, 1 writer', writers: 1, per: 200, size: 100, rawConns: 1 },
      {
        name: 'append 100 events, 8 writers',
        writers: 8,
        per: 60,
        size: 100,
        rawConns: 8,
        aim: [
          { of: 'ceiling' as const, atLeast: 0.9 },
          { of: 'peer' as const, atLeast: 2.5 },
        ],
      },
      { name: 'append 100 events, 32 writers', writers: 32, per: 15, size: 100, rawConns: 8 },
    ];
    for (const c of cases) {
      const retriedBefore = emmettRetries;
      const o: number[] = [];
      const r: number[] = [];
      const e: number[] = [];
      const rawPool = c.rawConns === 1 ? raw1 : raw8;
      // Each run alternates the three, so all meet the same table sizes and disk.
      for (let run = 0; run < ctx.runs; run++) {
        r.push(await rawPool.insert(c.rawConns, n((c.per * c.writers) / c.rawConns), c.size));
        o.push(
          await rate(async () => {
            await writers(c.writers, n(c.per), (w, i) =>
              ours.append(`s-${w}-${i % 50}`, Array.from({ length: c.size }, event)).then(() => {}),
            );
            return c.writers * n(c.per) * c.size;
          }),
        );
        e.push(
          await rate(async () => {
            await writers(c.writers, n(c.per), (w, i) =>
              emmettAppend(
                `e-${run}-${w}-${i % 50}`,
                Array.from({ length: c.size }, () => ({ type: 'BenchEvent', data: payload() })),
              ),
            );
            return c.writers * n(c.per) * c.size;
          }),
        );
      }
      const ceiling = {
        name: `${c.size === 1 ? 'single-row' : `${c.size}-row`} INSERT, ${c.rawConns} conn${c.rawConns > 1 ? 's' : ''}`,
        values: r,
      };
      const base = {
        scenario: 'event store',
        unit: 'events/s',
        better: 'higher' as const,
        ours: o,
        ceiling,
        peer: { name: `Emmett ${emmettVersion}`, values: e },
      };
      const retried = emmettRetries - retriedBefore;
      rows.push({
        ...base,
        case: c.name,
        ...(c.aim ? { aims: c.aim } : {}),
        ...(retried
          ? {
              note: `Emmett's append failed with a version conflict it was not asked to check ${retried} time(s); retried, its time included`,
            }
          : {}),
      });
    }
    // COPY: the fastest way rows get into Postgres, for the 100-event appends.
    const copy: number[] = [];
    const ours100: number[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      copy.push(await raw8.copy(8, n(60), 100));
      ours100.push(
        await rate(async () => {
          await writers(8, n(60), (w, i) =>
            ours.append(`c-${w}-${i % 50}`, Array.from({ length: 100 }, event)).then(() => {}),
          );
          return 8 * n(60) * 100;
        }),
      );
    }
    rows.push({
      scenario: 'event store',
      case: 'append 100 events, 8 writers (vs COPY)',
      unit: 'events/s',
      better: 'higher',
      ours: ours100,
      ceiling: { name: 'COPY 100 rows, 8 conns', values: copy },
    });

    // Read everything in order, after the write phases settle (as autovacuum would).
    await raw1.readEs().catch(() => {});
    const settle = new pg.Client({ connectionString: url });
    await settle.connect();
    await settle.query('vacuum analyze es_events');
    await settle.query('vacuum analyze emt_messages').catch(() => {});
    const stored = Number((await settle.query<{ n: string }>('select count(*) as n from es_events')).rows[0]!.n);
    const emmettStored = Number(
      (await settle.query<{ n: string }>('select count(*) as n from emt_messages')).rows[0]!.n,
    );
    const readOurs: number[] = [];
    const readRaw: number[] = [];
    const readEmmett: number[] = [];
    let oursCount = 0;
    let emmettCount = 0;
    for (let run = 0; run < ctx.runs; run++) {
      readRaw.push((await raw8.readEs()).rate);
      oursCount = 0;
      readOurs.push(
        await rate(async () => {
          let from: Parameters<typeof ours.readAll>[0] extends infer O
            ? O extends { fromPosition?: infer P }
              ? P
              : never
            : never = 'start';
          for (;;) {
            const page = await ours.readAll({ fromPosition: from, maxCount: 1000 });
            if (page.length === 0) return oursCount;
            oursCount += page.length;
            from = page[page.length - 1]!.position;
          }
        }),
      );
      const er = await emmettReadAll(url);
      readEmmett.push(er.rate);
      emmettCount = er.count;
    }
    rows.push({
      scenario: 'event store',
      case: `read all in order (${stored.toLocaleString('en-US')} events)`,
      unit: 'events/s',
      better: 'higher',
      ours: readOurs,
      ceiling: { name: 'keyset SELECT, pages of 1,000', values: readRaw },
      peer: { name: `Emmett ${emmettVersion}`, values: readEmmett },
      note:
        `our reader returned ${oursCount.toLocaleString('en-US')} of ${stored.toLocaleString('en-US')} events` +
        `; Emmett's returned ${emmettCount.toLocaleString('en-US')} of the ${emmettStored.toLocaleString('en-US')} in its table${emmettCount === emmettStored ? '' : ' (incomplete)'}`,
    });

    await settle.query('checkpoint').catch(() => {});
    await settle.end();
    const count = ctx.quick ? 100 : 1000;
    const oursLat: number[][] = [];
    const emmettLat: number[][] = [];
    for (let run = 0; run < ctx.runs; run++) {
      oursLat.push(await ourLatency(ours, url, count, 2));
      emmettLat.push(await emmettLatency(emmett, url, count, 2));
    }
    // The same while another session's transaction that wrote elsewhere (a report, a migration,
    // another application's database) stays open until 2 s after the last append. Emmett reads below
    // the snapshot's xmin, as this store did before: it delivers only once that transaction ends.
    const HOLD_MS = 2_000;
    const oursHeld: number[][] = [];
    const emmettHeld: number[][] = [];
    const holding = async <T>(measure: (release: () => Promise<void>) => Promise<T>): Promise<T> => {
      const other = new pg.Client({ connectionString: url, application_name: 'bench-long-report' });
      await other.connect();
      await other.query('create table if not exists bench_report_rows (id uuid primary key)');
      await other.query('begin');
      await other.query('insert into bench_report_rows (id) values ($1)', [randomUUID()]);
      let open = true;
      const release = async () => {
        await new Promise((r) => setTimeout(r, HOLD_MS));
        open = false;
        await other.query('rollback');
      };
      try {
        return await measure(release);
      } finally {
        if (open) await other.query('rollback').catch(() => {});
        await other.end();
      }
    };
    for (let run = 0; run < ctx.runs; run++) {
      oursHeld.push(await holding((release) => ourLatency(ours, url, count, 2, release)));
      emmettHeld.push(await holding((release) => emmettLatency(emmett, url, count, 2, release)));
    }
    for (const p of [50, 99]) {
      rows.push({
        scenario: 'event store',
        case: `subscription p${p} while an unrelated writing transaction stays open (${HOLD_MS / 1000} s past the last append)`,
        unit: 'ms',
        better: 'lower',
        ours: oursHeld.map((l) => percentile(l, p)),
        peer: {
          name: `Emmett ${emmettVersion} (reads below xmin, as this store did before)`,
          values: emmettHeld.map((l) => percentile(l, p)),
        },
        ...(p === 99
          ? {
              note: `delivered ${oursHeld.map((l) => l.length).join('/')} of ${count} (ours), ${emmettHeld.map((l) => l.length).join('/')} of ${count} (Emmett) per run`,
            }
          : {}),
      });
    }
    for (const p of [50, 99]) {
      rows.push({
        scenario: 'event store',
        case: `subscription p${p}, append acknowledged → handler in another instance`,
        unit: 'ms',
        better: 'lower',
        ours: oursLat.map((l) => percentile(l, p)),
        peer: { name: `Emmett ${emmettVersion} (polling consumer)`, values: emmettLat.map((l) => percentile(l, p)) },
        ...(p === 99
          ? {
              note: `delivered ${oursLat.map((l) => l.length).join('/')} of ${count} (ours), ${emmettLat.map((l) => l.length).join('/')} of ${count} (Emmett) per run${emmettRetries ? `; Emmett's appends retried ${emmettRetries} time(s) in all after racing to create a stream` : ''}`,
            }
          : {}),
      });
    }
  } finally {
    await ours.close();
    await emmett.close();
    await raw1.close();
    await raw8.close();
    await dropDatabase(ctx.adminUrl, dbName).catch(() => {});
  }
  return rows;
}
