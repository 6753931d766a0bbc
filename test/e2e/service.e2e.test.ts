import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { until } from '../support/async.js';
import { spawnCli, type Spawned } from '../support/process.js';
import { freshDatabase, testServices } from '../support/services.js';

interface IndexRow {
  stream_id: string;
  last_revision: string;
}

/** The stream_index rows that the events up to `checkpoint` (commit/prepare) must give. */
async function expectedIndex(
  knex: Knex,
  generationTable: string,
  checkpoint: { commit: string; prepare: string } | null,
) {
  const want = checkpoint
    ? (
        await knex.raw<{ rows: IndexRow[] }>(
          `select stream_id, max(revision)::text as last_revision from es_events
            where (tx_id, seq) <= (?::xid8, ?::bigint) group by stream_id order by stream_id`,
          [checkpoint.commit, checkpoint.prepare],
        )
      ).rows
    : [];
  const got = await knex(generationTable)
    .select<IndexRow[]>('stream_id', knex.raw('last_revision::text as last_revision'))
    .orderBy('stream_id');
  return { want, got };
}

async function generation(knex: Knex, generation: number) {
  const row = await knex('projection_generations').where({ name: 'stream_index', generation }).first<{
    status: string;
    checkpoint_commit: string | null;
    checkpoint_prepare: string | null;
    events_applied: string;
  }>();
  if (!row) return undefined;
  return {
    ...row,
    checkpoint: row.checkpoint_commit ? { commit: row.checkpoint_commit, prepare: row.checkpoint_prepare! } : null,
  };
}

describe('The service as a process', function () {
  this.timeout(180_000);
  let url: string;
  let env: Record<string, string>;
  let knex: Knex;
  let store: PostgresEventStore;
  const procs: Spawned[] = [];
  const spawn = (name: string, args: string[], extra: Record<string, string> = {}) => {
    const p = spawnCli(name, args, { ...env, ...extra });
    procs.push(p);
    return p;
  };

  before(async () => {
    url = await freshDatabase('service');
    const { redisUrl } = await testServices();
    env = {
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: `t:${randomUUID()}:`,
    };
    knex = createKnex(url, 4);
    store = new PostgresEventStore({ databaseUrl: url });
  });
  afterEach(async () => {
    for (const p of procs.splice(0))
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });

  it('serves /health and /ready, and exits 0 on SIGTERM', async () => {
    const p = spawn('serve', []);
    const { port } = (await p.waitForLog('listening')) as { port: number };
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.equal({ status: 'ok' });
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).to.equal(200);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean }>; projections: { name: string }[] };
    expect(body.checks.postgres!.ok).to.equal(true);
    expect(body.checks.redis!.ok).to.equal(true);
    expect(body.projections.map((x) => x.name)).to.include('stream_index');
    // Prometheus: projection lag per projector, sockets, queue depths, and appends once a command ran.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).to.match(/projection_lag_events\{projector="stream_index",state="running"\} 0/);
    expect(metrics).to.match(/socketio_connections 0/);
    expect(metrics).to.match(/job_queue_depth\{queue="carrier-verification",state="waiting"\}/);
    p.child.kill('SIGTERM');
    expect(await p.exited, p.output()).to.deep.equal({ code: 0, signal: null });
    expect(p.output()).to.include('"message":"stopped"');
  });

  it('stops with a message naming a wrongly set variable', async () => {
    const p = spawn('serve', [], { PORT: 'eighty' });
    const { code } = await p.exited;
    expect(code).to.equal(2);
    expect(p.output()).to.match(/PORT/);
  });

  it('refuses an unknown role', async () => {
    const p = spawn('serve', ['--role', 'chef']);
    expect((await p.exited).code).to.equal(2);
    expect(p.output()).to.match(/Unknown role "chef"/);
  });

  it('leaves read model and checkpoint consistent when killed during projection batches, and resumes', async () => {
    // Many streams and events, so that a kill lands while batches are being written.
    for (let i = 0; i < 40; i++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          store.append(
            `kill-${i}-${j}`,
            Array.from({ length: 50 }, () => ({ id: randomUUID(), type: 'Tick', data: {} })),
          ),
        ),
      );
    }
    const p = spawn('serve', ['--role', 'projector'], { PROJECTION_BATCH_SIZE: '100' });
    await until(async () => Number((await generation(knex, 1))?.events_applied ?? 0) > 2_000, 60_000, 5);
    p.child.kill('SIGKILL');
    await p.exited;
    const killed = (await generation(knex, 1))!;
    expect(Number(killed.events_applied)).to.be.below(20_000);
    const atKill = await expectedIndex(knex, 'stream_index__g1', killed.checkpoint);
    expect(atKill.got).to.deep.equal(atKill.want);

    const again = spawn('serve', ['--role', 'projector'], { PROJECTION_BATCH_SIZE: '100' });
    await again.waitForLog('listening');
    await until(async () => Number((await generation(knex, 1))?.events_applied ?? 0) >= 20_000, 60_000);
    const done = (await generation(knex, 1))!;
    expect(done.events_applied).to.equal('20000');
    const final = await expectedIndex(knex, 'stream_index', done.checkpoint);
    expect(final.got).to.deep.equal(final.want);
    expect(final.got).to.have.length(400);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).to.equal(0);
  });

  it('leaves the live read model serving when a rebuild is killed, and a second run finishes it', async () => {
    const live = (await generation(knex, 1))!;
    expect(live.status).to.equal('live');
    const p = spawn('rebuild', ['stream_index'], { PROJECTION_BATCH_SIZE: '50' });
    await until(async () => Number((await generation(knex, 2))?.events_applied ?? 0) > 1_000, 60_000, 5);
    p.child.kill('SIGKILL');
    await p.exited;
    const building = (await generation(knex, 2))!;
    expect(building.status).to.equal('building');
    const partial = await expectedIndex(knex, 'stream_index__g2', building.checkpoint);
    expect(partial.got).to.deep.equal(partial.want);
    // Readers still get the complete live generation.
    const served = await expectedIndex(knex, 'stream_index', live.checkpoint);
    expect(served.got).to.deep.equal(served.want);

    const second = spawn('rebuild', ['stream_index']);
    const { code } = await second.exited;
    expect(code, second.output()).to.equal(0);
    expect(second.output()).to.match(/stream_index: generation 2 is live \(20000 events applied\)/);
    expect(second.output()).to.match(/events\/s/);
    const switched = (await generation(knex, 2))!;
    expect(switched.status).to.equal('live');
    const final = await expectedIndex(knex, 'stream_index', switched.checkpoint);
    expect(final.got).to.deep.equal(final.want);
    expect(final.got).to.have.length(400);
  });
});
