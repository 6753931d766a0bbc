import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { parsePosition } from '../../src/eventstore/position.js';
import { ProjectionProgress } from '../../src/projections/progress.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { loadBody } from '../support/loads.js';

/**
 * Read-your-writes waits do not poll per request (issue 20): requests register and sleep; one
 * check per wake-up serves them all, and what wakes them is hearing that something changed — a
 * projector's checkpoint NOTIFY, or an append committing. The safety-net re-check is set to ten
 * minutes here, so every wait below that ends in time was ended by what it heard.
 */
describe('Waiting for a read model (ProjectionProgress)', () => {
  let h: ApiHarness;
  let progress: ProjectionProgress;
  let shipper: { orgId: string; auth: string };
  const deaf = { minMs: 600_000, maxMs: 600_000 };
  before(async () => {
    h = await apiHarness('projection_progress');
    shipper = await h.member('shipper', ['shipper']);
    progress = new ProjectionProgress({
      knex: h.readKnex,
      store: h.store,
      projectors: h.projectors,
      databaseUrl: h.databaseUrl,
      recheck: deaf,
    });
    await progress.start();
  });
  after(async () => {
    await progress?.stop();
    await h?.close();
  });

  async function client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: h.databaseUrl });
    await c.connect();
    return c;
  }

  it('wakes every waiter of a projector when its checkpoint moves, with a few checks for a hundred requests', async function () {
    this.timeout(60_000);
    await h.settle();
    // The load board cannot apply anything while its row is locked (a batch locks it first).
    const lock = await client();
    let released = false;
    try {
      await lock.query('begin');
      await lock.query("select 1 from projections where name = 'load_board' for update");
      const posted = await h
        .http()
        .post('/loads')
        .set('Authorization', shipper.auth)
        .send(loadBody(shipper.orgId))
        .expect(201);
      const target = parsePosition(posted.body.position as string);
      const checksBefore = progress.checks;
      const waits = Array.from({ length: 100 }, () =>
        progress.until('load_board', target, 60_000).then((ok) => ({ ok, afterRelease: released })),
      );
      expect(progress.waiting()).to.deep.equal({ load_board: 100 });
      // It asked the projector processes to announce their progress (by NOTIFY, as from another process).
      expect(await until(() => h.runner.announcer.wanted(), 30_000)).to.equal(true);
      released = true;
      await lock.query('commit');
      const results = await Promise.all(waits);
      expect(
        results.every((r) => r.ok && r.afterRelease),
        'every wait ended true, after the projector could move',
      ).to.equal(true);
      // Without notifications, none would have ended for ten minutes; and the checks served everyone together.
      expect(progress.checks - checksBefore).to.be.below(20);
      const board = await h.http().get(`/loads/${posted.body.loadId}`).set('Authorization', shipper.auth);
      expect(board.status).to.equal(200);
    } finally {
      if (!released) await lock.query('rollback').catch(() => {});
      await lock.end();
    }
  });

  it('wakes a waiter held behind an append in flight once an append commits', async function () {
    this.timeout(60_000);
    await h.settle();
    const held = await client();
    let committed = false;
    try {
      await held.query('begin');
      await held.query("select * from es_append(array[$1], array['any'], $2::jsonb)", [
        `held-${randomUUID()}`,
        JSON.stringify([[{ i: randomUUID(), t: 'Held', d: {} }]]),
      ]);
      // An event the board does not handle, after the open append: the board's checkpoint never moves for it.
      const noise = await h.store.append(`noise-${randomUUID()}`, [
        { id: randomUUID(), type: 'ProgressNoise', data: {} },
      ]);
      const wait = progress.until('load_board', noise.position, 60_000).then((ok) => ({ ok, afterCommit: committed }));
      // Still behind the open append: a short wait answers false, never true.
      expect(await progress.until('load_board', noise.position, 300)).to.equal(false);
      committed = true;
      await held.query('commit');
      // The open append committed silently (raw SQL); the next append through the store is heard.
      await h.store.append(`noise-${randomUUID()}`, [{ id: randomUUID(), type: 'ProgressNoise', data: {} }]);
      expect(await wait).to.deep.equal({ ok: true, afterCommit: true });
    } finally {
      if (!committed) await held.query('rollback').catch(() => {});
      await held.end();
    }
  });

  it('hears its own process at once, answers at once for a position already applied, and false for everyone still waiting when it stops', async function () {
    this.timeout(60_000);
    const posted = await h
      .http()
      .post('/loads')
      .set('Authorization', shipper.auth)
      .send(loadBody(shipper.orgId))
      .expect(201);
    const target = parsePosition(posted.body.position as string);
    // In the projectors' own process: told of each move at once, by a call, with no NOTIFY and no re-check.
    const local = new ProjectionProgress({
      knex: h.readKnex,
      store: h.store,
      projectors: h.projectors,
      announcer: h.runner.announcer,
      recheck: deaf,
    });
    try {
      expect(await local.until('load_board', target, 30_000)).to.equal(true);
    } finally {
      await local.stop();
    }
    expect(await progress.until('load_board', target, 30_000)).to.equal(true);
    expect(await progress.until('load_board', target, 0)).to.equal(true);
    await expectUnknown(() => progress.until('no_such_projection', target, 10));

    const other = new ProjectionProgress({
      knex: h.readKnex,
      store: h.store,
      projectors: h.projectors,
      databaseUrl: h.databaseUrl,
      recheck: deaf,
    });
    const held = await client();
    try {
      await held.query('begin');
      await held.query("select * from es_append(array[$1], array['any'], $2::jsonb)", [
        `held-${randomUUID()}`,
        JSON.stringify([[{ i: randomUUID(), t: 'Held', d: {} }]]),
      ]);
      const noise = await h.store.append(`noise-${randomUUID()}`, [
        { id: randomUUID(), type: 'ProgressNoise', data: {} },
      ]);
      const wait = other.until('load_board', noise.position, 60_000);
      await other.stop();
      expect(await wait).to.equal(false);
      expect(await other.until('load_board', noise.position, 60_000)).to.equal(false);
    } finally {
      await held.query('rollback').catch(() => {});
      await held.end();
      await other.stop();
    }
  });
});

async function expectUnknown(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    expect((err as Error).message).to.match(/No projector no_such_projection/);
    return;
  }
  expect.fail('an unknown projector was waited on');
}
