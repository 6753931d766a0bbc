/**
 * `node --import tsx bench/lib/profile.ts FILE.cpuprofile [--per N]`: where a process's CPU went, by
 * part of the request (HTTP stack, auth, validation, idempotency, decide, append, projections,
 * JSON, database driver, Redis, Socket.IO, GC…), from a `--cpu-prof` profile (e.g. of the service
 * under one bench case: `BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`). Each
 * sample goes to the innermost frame that names a part; `--per N` also divides the busy time by N
 * (the requests served) to give CPU per request; `--last S` counts only the last S seconds of the
 * profile (the shot at the end of a run, not the set-up before it);  `--top N` lists the N functions
 * with the most self time; `--window FROM,TO` only the
 * samples between two monotonic clock readings in µs (`process.hrtime.bigint() / 1000n`, the clock
 * of the profile's `startTime`; the versus scenario logs each shot's window).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** In order: the first rule a frame's file or function matches names its part. */
const PARTS: [string, RegExp][] = [
  ['projections (engine)', /\/src\/projections\//],
  ['projections (read models)', /\/src\/read-models\//],
  ['reactors', /\/src\/reactors\//],
  ['realtime (Socket.IO)', /\/src\/realtime\/|\/node_modules\/(socket\.io|engine\.io|ws|@socket\.io)\//],
  ['idempotency', /\/src\/http\/middleware\/idempotency/],
  ['rate limits', /\/src\/http\/middleware\/rate-limit|rate-limiter-flexible/],
  ['auth', /\/src\/auth\/|\/node_modules\/jose\//],
  ['decide (domain)', /\/src\/domain\//],
  ['command handling (application)', /\/src\/application\//],
  ['append and read (event store)', /\/src\/eventstore\//],
  ['validation (zod)', /\/node_modules\/zod\//],
  ['HTTP stack (Koa, routes, middleware)', /\/src\/http\/|\/node_modules\/(koa|@koa|koa-[a-z-]+|helmet)\//],
  ['HTTP stack (Express)', /\/node_modules\/(express|router|body-parser|raw-body|finalhandler|send|qs)\//],
  ['ORM (Drizzle)', /\/node_modules\/drizzle-orm\//],
  ['query builder (knex)', /\/node_modules\/knex\//],
  ['database driver (pg)', /\/node_modules\/(pg|pg-protocol|pg-types|pg-pool|postgres-[a-z]+|pg-copy-streams)\//],
  ['Redis (ioredis)', /\/node_modules\/(ioredis|@ioredis|redis-parser)\//],
  ['jobs (BullMQ)', /\/node_modules\/bullmq\/|\/src\/jobs\//],
  ['logging and tracing', /\/node_modules\/(winston|logform|@opentelemetry)\/|\/src\/infra\/(logger|tracing)/],
  ['metrics', /\/node_modules\/prom-client\/|\/src\/infra\/metrics/],
  ['other of ours', /\/src\/|\/bench\//],
  ['node (http, net, streams)', /^node:|^internal\//],
  ['other libraries', /\/node_modules\//],
];

function partOf(frame: Node['callFrame']): string | undefined {
  const { functionName: fn, url } = frame;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  if (!url && (fn === 'stringify' || fn === 'parse')) return 'JSON';
  for (const [name, re] of PARTS) if (re.test(url)) return name;
  return undefined;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { per: { type: 'string' }, last: { type: 'string' }, window: { type: 'string' }, top: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: profile.ts FILE.cpuprofile [--per N]');
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owner = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = owner.get(id);
    if (known) return known;
    let part: string | undefined;
    for (let at: number | undefined = id; at !== undefined && !part; at = parent.get(at))
      part = partOf(byId.get(at)!.callFrame);
    owner.set(id, part ?? 'other');
    return part ?? 'other';
  };
  const us = new Map<string, number>();
  const self = new Map<string, number>();
  const total = p.timeDeltas.reduce((a, d) => a + d, 0);
  const [from, to] = values.window
    ? values.window.split(',').map((x) => Number(x) - p.startTime)
    : [values.last ? total - Number(values.last) * 1e6 : 0, Infinity];
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from! || t > to!) continue;
    const part = ownerOf(p.samples[i]!);
    const f = byId.get(p.samples[i]!)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}`;
    self.set(name, (self.get(name) ?? 0) + (p.timeDeltas[i] ?? 0));
    us.set(part, (us.get(part) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const busy = [...us].filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0);
  const per = values.per ? Number(values.per) : undefined;
  const rows = [...us].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]);
  console.log(`| part | CPU ms | share of busy |${per ? ' µs per request |' : ''}`);
  console.log(`|---|---:|---:|${per ? '---:|' : ''}`);
  for (const [k, v] of rows)
    console.log(
      `| ${k} | ${(v / 1000).toFixed(0)} | ${((100 * v) / busy).toFixed(1)}% |${per ? ` ${(v / per).toFixed(0)} |` : ''}`,
    );
  console.log(
    `| busy (idle ${((us.get('idle') ?? 0) / 1000).toFixed(0)} ms) | ${(busy / 1000).toFixed(0)} | 100% |${per ? ` ${(busy / per).toFixed(0)} |` : ''}`,
  );
  if (values.top) {
    console.log(`\nTop ${values.top} functions by self time:`);
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
      console.log(`  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
