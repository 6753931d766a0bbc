/**
 * Scenario 3: commands over HTTP — requests/s and p99 of `POST /loads` and of booking a load
 * (`POST /loads/:id/book`), each beside a bare Koa JSON route in a process of its own, driven by
 * the same autocannon in the same run. The service runs every role in one process (as `npm start`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { type Shot, shoot } from '../lib/cannon.js';
import type { Row } from '../lib/report.js';
import { inParallel, loadBody, setupFleet, startService } from '../support.js';
import type { ScenarioContext } from './context.js';

async function bareKoa(): Promise<{ base: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../lib/bare-koa.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`bare Koa exited (${code})`)));
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

export async function commandsScenario(ctx: ScenarioContext): Promise<Row[]> {
  const seconds = ctx.quick ? 2 : 10;
  const connections = 16;
  const s = await startService('bench_commands');
  const bare = await bareKoa();
  try {
    const fleet = await setupFleet(s, 0);
    const json = (tok: string) => ({ authorization: `Bearer ${tok}`, 'content-type': 'application/json' });
    let i = 0;
    const postLoad = () => ({
      method: 'POST' as const,
      path: '/loads',
      headers: json(fleet.shipper),
      body: JSON.stringify(loadBody(fleet.shipperOrg, i++)),
    });
    const bareCall = () => ({
      method: 'POST' as const,
      path: '/json',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(loadBody(fleet.shipperOrg, i++)),
    });

    const rows = {
      post: { ours: [] as Shot[], bare: [] as Shot[] },
      book: { ours: [] as Shot[], bare: [] as Shot[] },
    };
    // Warm up both.
    await shoot(s.base, { connections: 4, seconds: 1, request: postLoad });
    await shoot(bare.base, { connections: 4, seconds: 1, request: bareCall });
    for (let run = 0; run < ctx.runs; run++) {
      rows.post.bare.push(await shoot(bare.base, { connections, seconds, request: bareCall }));
      rows.post.ours.push(await shoot(s.base, { connections, seconds, request: postLoad }));
      // Bookings need open loads: as many as the posts of this run managed, posted beforehand.
      const count = Math.max(50, Math.round(rows.post.ours[run]!.perSecond * seconds));
      const open: string[] = new Array(count);
      await inParallel([...Array(count).keys()], 16, async (k) => {
        open[k] = (await s.call(fleet.shipper, '/loads', loadBody(fleet.shipperOrg, i++))).loadId!;
      });
      let next = 0;
      const book = () => ({
        method: 'POST' as const,
        path: `/loads/${open[next++ % count]}/book`,
        headers: json(fleet.carrier),
        body: JSON.stringify({ carrierId: fleet.carrierId }),
      });
      // The same bare route is the ceiling of both commands.
      rows.book.bare.push(rows.post.bare[run]!);
      rows.book.ours.push(await shoot(s.base, { connections, amount: count, request: book }));
      ctx.log(
        `commands run ${run + 1}: post ${Math.round(rows.post.ours[run]!.perSecond)}/s, book ${Math.round(rows.book.ours[run]!.perSecond)}/s, bare ${Math.round(rows.post.bare[run]!.perSecond)}/s`,
      );
    }
    const errors = (xs: Shot[]) => xs.reduce((a, x) => a + x.errors, 0);
    const out: Row[] = [];
    for (const [key, label, what] of [
      ['post', 'POST /loads', 'new load each'],
      ['book', 'POST /loads/:id/book', 'one open load each, verified carrier'],
    ] as const) {
      const r = rows[key];
      out.push({
        scenario: 'commands over HTTP',
        case: `${label} (${connections} connections)`,
        unit: 'req/s',
        better: 'higher',
        ours: r.ours.map((x) => x.perSecond),
        ceiling: { name: 'bare Koa JSON route', values: r.bare.map((x) => x.perSecond) },
        ...(key === 'post' ? { aims: [{ value: 10_000 }] } : {}),
        note: `${what}; ${errors(r.ours)} non-2xx or failed answers (ours), ${errors(r.bare)} (bare)${key === 'book' ? '; bookings run until the open loads are used up' : ''}`,
      });
      out.push({
        scenario: 'commands over HTTP',
        case: `${label} p99`,
        unit: 'ms',
        better: 'lower',
        ours: r.ours.map((x) => x.p99),
        ceiling: { name: 'bare Koa JSON route', values: r.bare.map((x) => x.p99) },
        ...(key === 'post' ? { aims: [{ value: 20, atMost: true }] } : {}),
      });
    }
    return out;
  } finally {
    bare.child.kill('SIGTERM');
    await s.stop();
  }
}
