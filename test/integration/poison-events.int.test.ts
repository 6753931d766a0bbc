import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { loadBody } from '../support/loads.js';
import type { EventData } from '../../src/eventstore/types.js';
import type { PoisonPolicy, PostgresProjector } from '../../src/projections/types.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';

/**
 * A poison event does not stop a read model forever (issue 20): a projector that cannot apply an
 * event parks it and goes on, or stops on it, per its policy; operators list, retry and skip such
 * events over HTTP; a metric and /ready count them; a rebuild clears what it fixes.
 *
 * The probes are real projectors run by the service's runner: each records the events it applies,
 * and cannot apply one marked `poison` until that event is "cured" (a row in a table standing for
 * whatever the fix is: data it was missing, a deploy).
 */
function probe(name: string, policy: PoisonPolicy, version = 1): PostgresProjector {
  return {
    kind: 'postgres',
    name,
    version,
    onPoison: policy,
    eventTypes: ['ProbeEvent'],
    streamPrefixes: [`${name}-`],
    tables: [`${name}_seen`],
    async setup(trx, t) {
      await trx.raw(`create table ?? (event_id text primary key, n int not null)`, [t(`${name}_seen`)]);
    },
    async apply(trx: Knex.Transaction, events, t) {
      for (const e of events) {
        const data = e.data as { n: number; poison?: boolean };
        if (data.poison) {
          const cured = await trx('poison_cures').where({ event_id: e.id }).first();
          if (!cured) throw new Error(`probe cannot apply event ${e.id}: the thing it needs is missing`);
        }
        await trx(t(`${name}_seen`))
          .insert({ event_id: e.id, n: data.n })
          .onConflict('event_id')
          .ignore();
      }
    },
  };
}

const event = (n: number, poison = false): EventData => ({
  id: randomUUID(),
  type: 'ProbeEvent',
  data: { n, ...(poison ? { poison: true } : {}) },
});

describe('Poison events', () => {
  let h: ApiHarness;
  const park = probe('probe_park', 'park');
  const stop = probe('probe_stop', 'stop');
  const rebuilt = probe('probe_rebuild', 'park');
  before(async () => {
    h = await apiHarness('poison_events', {}, { extraProjectors: [park, stop, rebuilt] });
    await h.knex.raw('create table poison_cures (event_id text primary key)');
  });
  after(() => h?.close());

  const seen = async (name: string) => (await h.knex(`${name}_seen`).orderBy('n').pluck('n')) as number[];
  const list = async (name: string, query = '') =>
    (await h.http().get(`/admin/projections/${name}/parked${query}`).set('Authorization', h.admin).expect(200))
      .body as {
      total: number;
      events: {
        eventId: string;
        status: string;
        error: string;
        attempts: number;
        position: string;
        type: string;
        streamId: string;
        resolvedBy: string | null;
        event: { data: unknown; id: string };
      }[];
    };
  const status = async (name: string) => {
    const ready = (await h.http().get('/ready')).body as {
      projections: { name: string; state: string; parked: number; onPoison: string; lastError: string | null }[];
    };
    return ready.projections.find((p) => p.name === name)!;
  };
  const metric = async (name: string, state: string) => {
    const text = (await h.http().get('/metrics').expect(200)).text;
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`projection_parked_events{projector="${name}",status="${state}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const cure = (id: string) => h.knex('poison_cures').insert({ event_id: id });

  it('parks an event its projector cannot apply and goes on; lists it, counts it, retries and skips it', async function () {
    this.timeout(60_000);
    const stream = `probe_park-${randomUUID()}`;
    const [a, poison, b] = [event(1), event(2, true), event(3)];
    await h.store.append(stream, [a, poison, b]);
    await h.store.append(stream, [event(4)]);
    expect(await until(async () => (await seen('probe_park')).includes(4), 30_000)).to.equal(true);
    expect(await seen('probe_park')).to.deep.equal([1, 3, 4]);

    const parked = await list('probe_park');
    expect(parked.total).to.equal(1);
    expect(parked.events[0]).to.include({ eventId: poison.id, status: 'parked', type: 'ProbeEvent', streamId: stream });
    expect(parked.events[0]!.error).to.match(/probe cannot apply event/);
    expect(parked.events[0]!.attempts).to.be.at.least(3);
    expect(parked.events[0]!.event.data).to.deep.equal({ n: 2, poison: true });
    expect(await status('probe_park')).to.include({ state: 'running', parked: 1, onPoison: 'park' });
    expect(await metric('probe_park', 'parked')).to.equal(1);

    // Retried before the fix: still fails (422), stays parked with the new error.
    const again = await h
      .http()
      .post(`/admin/projections/probe_park/parked/${poison.id}/retry`)
      .set('Authorization', h.admin)
      .expect(422);
    expect(again.headers['content-type']).to.match(/application\/problem\+json/);
    expect(again.body.detail).to.match(/still cannot apply/);
    expect((await list('probe_park')).events[0]).to.include({ status: 'parked' });
    // After the fix: applied now.
    await cure(poison.id);
    const retried = await h
      .http()
      .post(`/admin/projections/probe_park/parked/${poison.id}/retry`)
      .set('Authorization', h.admin)
      .expect(200);
    expect(retried.body).to.deep.equal({ eventId: poison.id, status: 'retried' });
    expect(await seen('probe_park')).to.deep.equal([1, 2, 3, 4]);
    expect((await list('probe_park')).total).to.equal(0);
    const done = await list('probe_park', '?status=retried');
    expect(done.events.map((e) => e.eventId)).to.deep.equal([poison.id]);
    expect(done.events[0]!.resolvedBy).to.be.a('string');
    expect(await metric('probe_park', 'parked')).to.equal(0);
    await h
      .http()
      .post(`/admin/projections/probe_park/parked/${poison.id}/retry`)
      .set('Authorization', h.admin)
      .expect(409);

    // Another one, skipped: the read model goes without it, and the record stays.
    const other = event(5, true);
    await h.store.append(stream, [other, event(6)]);
    expect(await until(async () => (await seen('probe_park')).includes(6), 30_000)).to.equal(true);
    const skipped = await h
      .http()
      .post(`/admin/projections/probe_park/parked/${other.id}/skip`)
      .set('Authorization', h.admin)
      .expect(200);
    expect(skipped.body).to.deep.equal({ eventId: other.id, status: 'skipped' });
    expect(await seen('probe_park')).to.deep.equal([1, 2, 3, 4, 6]);
    expect((await list('probe_park', '?status=skipped')).events.map((e) => e.eventId)).to.deep.equal([other.id]);
    await h
      .http()
      .post(`/admin/projections/probe_park/parked/${other.id}/skip`)
      .set('Authorization', h.admin)
      .expect(409);
  });

  it('stops on an event its projector cannot apply, applying nothing after it, until an operator retries or skips it', async function () {
    this.timeout(60_000);
    const stream = `probe_stop-${randomUUID()}`;
    const poison = event(2, true);
    await h.store.append(stream, [event(1), poison, event(3)]);
    expect(await until(async () => (await status('probe_stop')).state === 'failed', 30_000)).to.equal(true);
    expect(await seen('probe_stop')).to.deep.equal([1]);
    const stopped = await list('probe_stop');
    expect(stopped.events.map((e) => [e.eventId, e.status])).to.deep.equal([[poison.id, 'stopped']]);
    const s = await status('probe_stop');
    expect(s).to.include({ parked: 1, onPoison: 'stop' });
    // /ready is unauthenticated: it says the projector fails, not what the event held; the runner (and the log) say why.
    expect(s.lastError)
      .to.match(/^failing: see /)
      .and.not.match(/probe_stop-|cannot apply/);
    expect((await h.runner.status()).find((p) => p.name === 'probe_stop')!.lastError).to.match(
      /stopped at .* which it cannot apply: probe cannot apply event/,
    );
    expect((await h.http().get('/ready')).status).to.equal(503);
    expect(await metric('probe_stop', 'stopped')).to.equal(1);

    // Retry before the fix: the projector tries, fails, and stays stopped with the error.
    const asked = await h
      .http()
      .post(`/admin/projections/probe_stop/parked/${poison.id}/retry`)
      .set('Authorization', h.admin)
      .expect(202);
    expect(asked.body).to.deep.equal({ eventId: poison.id, status: 'retrying' });
    expect(await until(async () => (await list('probe_stop')).events[0]?.status === 'stopped', 30_000)).to.equal(true);
    expect(await seen('probe_stop')).to.deep.equal([1]);
    // After the fix: applied in order, then everything after it.
    await cure(poison.id);
    await h
      .http()
      .post(`/admin/projections/probe_stop/parked/${poison.id}/retry`)
      .set('Authorization', h.admin)
      .expect(202);
    expect(await until(async () => (await seen('probe_stop')).includes(3), 30_000)).to.equal(true);
    expect(await seen('probe_stop')).to.deep.equal([1, 2, 3]);
    expect(await until(async () => (await status('probe_stop')).state === 'running', 30_000)).to.equal(true);
    expect((await list('probe_stop', '?status=retried')).events.map((e) => e.eventId)).to.deep.equal([poison.id]);

    // Another, skipped: the projector passes it and goes on.
    const next = event(4, true);
    await h.store.append(stream, [next, event(5)]);
    expect(await until(async () => (await list('probe_stop')).events[0]?.status === 'stopped', 30_000)).to.equal(true);
    await h
      .http()
      .post(`/admin/projections/probe_stop/parked/${next.id}/skip`)
      .set('Authorization', h.admin)
      .expect(202);
    expect(await until(async () => (await seen('probe_stop')).includes(5), 30_000)).to.equal(true);
    expect(await seen('probe_stop')).to.deep.equal([1, 2, 3, 5]);
    expect(await until(async () => (await status('probe_stop')).state === 'running', 30_000)).to.equal(true);
    expect((await list('probe_stop', '?status=skipped')).events.map((e) => e.eventId)).to.deep.equal([next.id]);
    expect(await metric('probe_stop', 'stopped')).to.equal(0);
  });

  it('parks what a real read model cannot apply (a malformed event in the log) and keeps serving the board', async function () {
    this.timeout(60_000);
    const shipper = await h.member('shipper', ['shipper']);
    // As an older version (or a bug) might have written it: a LoadPosted whose data lacks almost everything.
    const bad = { id: randomUUID(), type: 'LoadPosted', data: { loadId: randomUUID() } };
    await h.store.append(`load-${bad.data.loadId}`, [bad]);
    const posted = await h
      .http()
      .post('/loads')
      .set('Authorization', shipper.auth)
      .send(loadBody(shipper.orgId))
      .expect(201);
    const read = await h
      .http()
      .get(`/loads/${posted.body.loadId}?minPosition=${encodeURIComponent(posted.body.position as string)}`)
      .set('Authorization', shipper.auth);
    expect(read.status).to.equal(200);
    expect(await until(async () => (await list('load_board')).total >= 1, 30_000)).to.equal(true);
    const parked = await list('load_board');
    expect(parked.events.map((e) => e.eventId)).to.include(bad.id);
    expect((await status('load_board')).state).to.equal('running');
  });

  it('clears on a rebuild what the new generation applies, and lists only what still fails', async function () {
    this.timeout(120_000);
    const stream = `probe_rebuild-${randomUUID()}`;
    const [fixed, still] = [event(10, true), event(11, true)];
    await h.store.append(stream, [event(9), fixed, still, event(12)]);
    expect(await until(async () => (await seen('probe_rebuild')).includes(12), 30_000)).to.equal(true);
    expect((await list('probe_rebuild')).events.map((e) => e.eventId)).to.deep.equal([fixed.id, still.id]);
    await cure(fixed.id);
    const result = await h.runner.rebuild('probe_rebuild');
    expect(result).to.include({ parkedCleared: 2, parked: 1 });
    expect((await list('probe_rebuild')).events.map((e) => [e.eventId, e.status])).to.deep.equal([
      [still.id, 'parked'],
    ]);
    // The new generation applied the fixed one in order; the old generation's record went with it.
    expect(await seen('probe_rebuild')).to.deep.equal([9, 10, 12]);
    expect((await list('probe_rebuild', '?status=parked,retried,skipped')).total).to.equal(1);
    expect(await metric('probe_rebuild', 'parked')).to.equal(1);
  });

  it('refuses what an operator may not do, and what does not exist, with problem+json', async function () {
    this.timeout(60_000);
    const carrier = await h.member('carrier', ['carrier']);
    const some = randomUUID();
    await h.http().get('/admin/projections/probe_park/parked').set('Authorization', carrier.auth).expect(403);
    await h.http().get('/admin/projections/probe_park/parked').expect(401);
    await h
      .http()
      .post(`/admin/projections/probe_park/parked/${some}/retry`)
      .set('Authorization', carrier.auth)
      .expect(403);
    await h
      .http()
      .post(`/admin/projections/probe_park/parked/${some}/skip`)
      .set('Authorization', carrier.auth)
      .expect(403);
    const none = await h.http().get('/admin/projections/no_such/parked').set('Authorization', h.admin).expect(404);
    expect(none.headers['content-type']).to.match(/application\/problem\+json/);
    await h.http().post(`/admin/projections/probe_park/parked/${some}/retry`).set('Authorization', h.admin).expect(404);
    await h.http().post(`/admin/projections/probe_park/parked/${some}/skip`).set('Authorization', h.admin).expect(404);
    await h.http().get('/admin/projections/probe_park/parked?status=lost').set('Authorization', h.admin).expect(400);
    await h.http().get('/admin/projections/probe_park/parked?limit=0').set('Authorization', h.admin).expect(400);
    await h
      .http()
      .post(`/admin/projections/probe_park/parked/${'x'.repeat(300)}/retry`)
      .set('Authorization', h.admin)
      .expect(400);
    await h
      .http()
      .post(`/admin/projections/probe_park/parked/a%00b/skip`)
      .set('Authorization', h.admin)
      .expect((r) => expect(r.status).to.be.oneOf([400, 404]));
  });
});
