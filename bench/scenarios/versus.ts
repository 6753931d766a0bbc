/**
 * Scenario 7, against the stack it replaces: ours (`npm start`, every role in one process, every
 * read model maintained) beside a conventional Express + Drizzle + Redis service
 * (`bench/conventional/`), on the same data, driven by the same autocannon requests in the same run:
 * `POST /loads`, four of the board's filter sets as a carrier, `GET /loads/:id`, booking and pings,
 * at 16 and 64 connections. Ratios are ours ÷ conventional (for p99, conventional ÷ ours).
 *
 * The data: a database seeded through our write path (the seed's loads, 100,000 and 1,000,000 in the
 * full run, 2,000 in --quick), its read models caught up, kept as a template for later runs (re-seeded
 * when older than 6 hours: the seed's pickup windows are relative to its day). Each run works on a
 * copy of it; a fleet (a shipper, a verified carrier, drivers with booked, assigned loads) is set up
 * through our API; then the conventional database is filled from our read models, row for row, and
 * indexed and analyzed. Both answer the same tokens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { setupConventional } from '../conventional/setup.js';
import { DEV_JWT_SECRET } from '../../src/infra/config.js';
import { dropDatabase, withDatabase } from '../../src/infra/db.js';
import { type Call, type Shot, shoot } from '../lib/cannon.js';
import type { Aim, Row } from '../lib/report.js';
import { type Fleet, loadBody, type Service, setupFleet, startService } from '../support.js';
import { openBoard } from './board.js';
import type { ScenarioContext } from './context.js';

const TEMPLATE_MAX_AGE_H = 6;
const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

/** The board's filter sets a carrier uses (as in the load board scenario). */
const BOARD_SETS: { name: string; query: Record<string, string> }[] = [
  { name: 'open board, soonest pickup', query: {} },
  {
    name: 'within 100 mi of Dallas, nearest first',
    query: { originLat: '32.78', originLng: '-96.80', originRadiusMi: '100', sort: 'deadhead' },
  },
  {
    name: 'flatbed/step deck from TX, ≥ $3/mi',
    query: { equipment: 'flatbed,step_deck', originStates: 'TX', minRatePerMileCents: '300' },
  },
  {
    name: 'next 48 h, ≤ 30,000 lb, full, best rate',
    query: { pickupFrom: inHours(0), pickupTo: inHours(48), maxWeightLb: '30000', loadSize: 'full', sort: 'rate' },
  },
];

interface Side {
  name: 'ours' | 'conventional';
  base: string;
  /** Waits until the side has finished the work a shot left (our projections); nothing for the other. */
  settle(): Promise<void>;
}

interface Case {
  label: string;
  kind: 'write' | 'board' | 'read' | 'pings';
  /** A request maker for one shot at one side (the same sequence for both sides). */
  make(shot: number): () => Call;
  /** Requests per shot, when a shot is bounded by what it consumes (open loads to book). */
  amount?: number;
  note?: string;
}

/** The template database of `loads` seeded loads, caught up; re-seeded when stale. */
async function template(ctx: ScenarioContext, loads: number): Promise<string> {
  const name = `bench_versus_${loads}`;
  const admin = new pg.Client({ connectionString: ctx.adminUrl });
  await admin.connect();
  try {
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
    if (exists) {
      const db = new pg.Client({ connectionString: withDatabase(ctx.adminUrl, name) });
      await db.connect();
      const fresh = await db
        .query<{ fresh: boolean }>(
          `select seeded_at > now() - make_interval(hours => $1) as fresh from bench_versus_meta`,
          [TEMPLATE_MAX_AGE_H],
        )
        .then((r) => r.rows[0]?.fresh === true)
        .catch(() => false);
      await db.end();
      if (fresh) return name;
      ctx.log(`versus: ${name} is older than ${TEMPLATE_MAX_AGE_H} h or unfinished; seeding it again`);
      await dropDatabase(ctx.adminUrl, name);
    }
  } finally {
    await admin.end();
  }
  const board = await openBoard(ctx, { loads, dbName: name });
  try {
    await board.knex.raw('create table bench_versus_meta (seeded_at timestamptz not null)');
    await board.knex.raw('insert into bench_versus_meta values (now())');
    await board.knex.raw('vacuum analyze');
  } finally {
    await board.close();
  }
  return name;
}

/** A copy of the template for one run of the scenario (writes land in it, never in the template). */
async function copyOf(ctx: ScenarioContext, from: string, name: string): Promise<void> {
  await dropDatabase(ctx.adminUrl, name);
  const admin = new pg.Client({ connectionString: ctx.adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${from}`);
  } finally {
    await admin.end();
  }
}

async function startConventional(
  s: Service,
  databaseUrl: string,
): Promise<{ base: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      // BENCH_CONVENTIONAL_NODE_ARGS: as BENCH_SERVICE_NODE_ARGS, for the conventional service (profiling it).
      ...(process.env.BENCH_CONVENTIONAL_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      path.join(import.meta.dirname, '../conventional/server.ts'),
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL: s.services.redisUrl,
        REDIS_KEY_PREFIX: `bench:conventional:${randomUUID().slice(0, 8)}:`,
        JWT_SECRET: DEV_JWT_SECRET,
        JWT_ISSUER: s.config.JWT_ISSUER,
        JWT_AUDIENCE: s.config.JWT_AUDIENCE,
        PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the conventional service exited (${code})`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function cases(fleet: Fleet, open: string[], seen: string[], perShot: number, trucks: number): Case[] {
  const auth = (tok: string) => ({ authorization: `Bearer ${tok}` });
  const json = (tok: string) => ({ ...auth(tok), 'content-type': 'application/json' });
  let posted = 0;
  const board: Case[] = BOARD_SETS.map((set) => {
    const qs = new URLSearchParams(set.query).toString();
    const p = `/loads${qs ? `?${qs}` : ''}`;
    return {
      label: `GET /loads ${set.name} (as a carrier)`,
      kind: 'board',
      make: () => () => ({ method: 'GET', path: p, headers: auth(fleet.carrier) }),
    };
  });
  return [
    {
      label: 'POST /loads',
      kind: 'write',
      make: () => () => ({
        method: 'POST',
        path: '/loads',
        headers: json(fleet.shipper),
        body: JSON.stringify(loadBody(fleet.shipperOrg, posted++)),
      }),
    },
    ...board,
    {
      label: 'GET /loads/:id with its history',
      kind: 'read',
      make: () => {
        let k = 0;
        return () => ({ method: 'GET', path: `/loads/${seen[k++ % seen.length]}`, headers: auth(fleet.carrier) });
      },
    },
    {
      label: 'POST /loads/:id/book',
      kind: 'write',
      amount: perShot,
      // Shot n books its own slice of the open loads; both sides book the same loads.
      make: (shot) => {
        let k = 0;
        return () => ({
          method: 'POST',
          path: `/loads/${open[shot * perShot + (k++ % perShot)]}/book`,
          headers: json(fleet.carrier),
          body: JSON.stringify({ carrierId: fleet.carrierId }),
        });
      },
      note: 'each request books its own open load, verified carrier',
    },
    {
      label: 'POST /tracking/pings (20 a request)',
      kind: 'pings',
      make: () => {
        let k = 0;
        return () => {
          const i = k++ % trucks;
          const now = Date.now();
          return {
            method: 'POST',
            path: '/tracking/pings',
            headers: json(fleet.driverTokens[i]!),
            body: JSON.stringify({
              loadId: fleet.loads[i],
              pings: Array.from({ length: 20 }, (_, j) => ({
                id: randomUUID(),
                lat: 29 + (i % 100) * 0.05 + j * 1e-4,
                lng: -98 + Math.floor(i / 100) * 0.05,
                speedMph: 55,
                headingDeg: 90,
                accuracyM: 5,
                recordedAt: new Date(now - (19 - j) * 1_000).toISOString(),
              })),
            }),
          };
        };
      },
      note: `${trucks} drivers, each hauling one booked, assigned load`,
    },
  ];
}

const AIMS: Record<Case['kind'], number> = { write: 1, read: 1, board: 2, pings: 1.5 };

async function versusAt(ctx: ScenarioContext, loads: number): Promise<Row[]> {
  const seconds = ctx.quick ? 2 : 10;
  const connectionCounts = process.env.BENCH_VERSUS_CONNECTIONS?.split(',').map(Number) ?? [16, 64];
  const trucks = ctx.quick ? 20 : 200;
  const from = await template(ctx, loads);
  const runDb = 'bench_versus_run';
  await copyOf(ctx, from, runDb);
  const ours = await startService(runDb, {}, undefined, { keep: true });
  let conventional: Awaited<ReturnType<typeof startConventional>> | undefined;
  try {
    const t0 = Date.now();
    const fleet = await setupFleet(ours, trucks);
    const conv = await setupConventional(ctx.adminUrl, 'bench_versus_conventional', ours.databaseUrl);
    conventional = await startConventional(ours, conv.url);
    ctx.log(
      `versus ${loads.toLocaleString('en-US')}: fleet and conventional database ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );

    // The loads both sides book (open, in a random order) and read.
    const db = new pg.Client({ connectionString: ours.databaseUrl });
    await db.connect();
    const open = (
      await db.query<{ id: string }>(
        `select load_id as id from load_board where status = 'posted' and pickup_to > now() + interval '1 hour' order by md5(load_id::text)`,
      )
    ).rows.map((r) => r.id);
    await db.end();
    const shots = connectionCounts.length * ctx.runs;
    const perShot = Math.max(1, Math.min(ctx.quick ? 150 : 3_000, Math.floor((open.length * 0.9) / shots)));
    const seen = open.slice(-1_000);
    // BENCH_VERSUS_CASES=pings,book: only the cases whose label has one of these words (profiling one route).
    const only = process.env.BENCH_VERSUS_CASES?.split(',').map((w) => w.trim().toLowerCase());
    const list = cases(fleet, open, seen, perShot, trucks).filter(
      (c) => !only || only.some((w) => c.label.toLowerCase().includes(w)),
    );
    const sides: Side[] = [
      { name: 'ours', base: ours.base, settle: () => ours.settle() },
      { name: 'conventional', base: conventional.base, settle: async () => {} },
    ];
    // Warm both up: a few seconds of every case at low concurrency (JIT, pools, caches).
    for (const side of sides)
      for (const c of list.filter((x) => x.kind !== 'write'))
        await shoot(side.base, { connections: 4, seconds: ctx.quick ? 0.5 : 1, request: c.make(0) });

    const results = new Map<string, { ours: Shot[]; conventional: Shot[] }>();
    let shot = 0;
    for (let run = 0; run < ctx.runs; run++) {
      for (const connections of connectionCounts) {
        for (const c of list) {
          const key = `${c.label}|${connections}`;
          if (!results.has(key)) results.set(key, { ours: [], conventional: [] });
          // Alternate who goes first, so neither always meets a warmer or a more tired machine.
          const order = run % 2 === 0 ? sides : [...sides].reverse();
          for (const side of order) {
            const from = process.hrtime.bigint() / 1000n;
            const r = await shoot(side.base, {
              connections,
              ...(c.amount ? { amount: c.amount } : { seconds }),
              request: c.make(shot),
            });
            results.get(key)![side.name].push(r);
            // The shot's window on the monotonic clock of --cpu-prof profiles (bench/lib/profile.ts --window).
            ctx.log(
              `${side.name}, ${c.label}, ${connections} conn: ${Math.round(r.perSecond)} req/s; window ${from},${process.hrtime.bigint() / 1000n}; requests ${r.total}`,
            );
            await side.settle();
          }
        }
        shot++;
        ctx.log(`versus ${loads.toLocaleString('en-US')} run ${run + 1}, ${connections} connections done`);
      }
    }

    const rows: Row[] = [];
    const scale = `${loads.toLocaleString('en-US')} loads`;
    for (const connections of connectionCounts) {
      for (const c of list) {
        const r = results.get(`${c.label}|${connections}`)!;
        const errs = (xs: Shot[]) => {
          const by: Record<string, number> = {};
          for (const x of xs) for (const [k, v] of Object.entries(x.statuses)) by[k] = (by[k] ?? 0) + v;
          const n = xs.reduce((a, x) => a + x.errors, 0);
          return n === 0
            ? '0'
            : `${n} (${
                Object.entries(by)
                  .map(([k, v]) => `${v}×${k}`)
                  .join(', ') || 'failed'
              })`;
        };
        const aim: Aim[] = [{ of: 'peer', atLeast: AIMS[c.kind] }];
        rows.push({
          scenario: 'versus conventional',
          case: `${c.label}, ${connections} conn, ${scale}`,
          unit: 'req/s',
          better: 'higher',
          ours: r.ours.map((x) => x.perSecond),
          peer: { name: 'Express + Drizzle + Redis', values: r.conventional.map((x) => x.perSecond) },
          aims: aim,
          note: `${c.note ? `${c.note}; ` : ''}non-2xx or failed: ${errs(r.ours)} (ours), ${errs(r.conventional)} (conventional); p50 ${med(r.ours.map((x) => x.p50))} / ${med(r.conventional.map((x) => x.p50))} ms`,
        });
        rows.push({
          scenario: 'versus conventional',
          case: `${c.label} p99, ${connections} conn, ${scale}`,
          unit: 'ms',
          better: 'lower',
          ours: r.ours.map((x) => x.p99),
          peer: { name: 'Express + Drizzle + Redis', values: r.conventional.map((x) => x.p99) },
          aims: [{ of: 'peer', atLeast: 1 }],
        });
      }
    }
    return rows;
  } finally {
    await conventional?.stop();
    await ours.stop();
    await dropDatabase(ctx.adminUrl, 'bench_versus_conventional').catch(() => {});
    await dropDatabase(ctx.adminUrl, runDb).catch(() => {});
  }
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function versusScenario(ctx: ScenarioContext): Promise<Row[]> {
  const sizes = process.env.BENCH_VERSUS_LOADS
    ? process.env.BENCH_VERSUS_LOADS.split(',').map(Number)
    : ctx.quick
      ? [2_000]
      : [100_000, 1_000_000];
  const rows: Row[] = [];
  for (const loads of sizes) rows.push(...(await versusAt(ctx, loads)));
  return rows;
}
