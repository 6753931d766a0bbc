import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { loadBody } from '../support/loads.js';

/**
 * A read with ?minPosition= answers with a read model that holds that position, or waits, or
 * answers 503 after MIN_POSITION_WAIT_MS; never earlier, never stale (issue 20).
 */
describe('Reading one’s own write', () => {
  let h: ApiHarness;
  let shipper: { orgId: string; auth: string };
  before(async () => {
    h = await apiHarness('read_your_writes', { MIN_POSITION_WAIT_MS: '2000' });
    shipper = await h.member('shipper', ['shipper']);
  });
  after(() => h?.close());

  /** POST a load, then GET it with the answer's position: 200 with it, or 503; a 404 is stale. */
  async function createThenRead(): Promise<number> {
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
    if (read.status === 200) expect(read.body.loadId).to.equal(posted.body.loadId);
    return read.status;
  }

  async function clients(n: number, each: number): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {};
    await Promise.all(
      Array.from({ length: n }, async () => {
        for (let i = 0; i < each; i++) {
          const status = await createThenRead();
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
    return statuses;
  }

  /**
   * Stale is a 404 for what the caller just created. A 503 is a correct answer too (the read model
   * did not get there within MIN_POSITION_WAIT_MS): how often a busy machine gives one is a matter
   * of speed, which tests do not judge.
   */
  function expectNoneStale(statuses: Record<number, number>, asked: number): void {
    expect(statuses[404] ?? 0, 'stale answers').to.equal(0);
    expect(
      Object.keys(statuses).filter((s) => s !== '200' && s !== '503'),
      'answers other than 200 or 503',
    ).to.deep.equal([]);
    expect((statuses[200] ?? 0) + (statuses[503] ?? 0)).to.equal(asked);
  }

  it('finds every one of many concurrent clients’ writes (0 stale answers)', async function () {
    this.timeout(120_000);
    expectNoneStale(await clients(16, 15), 240);
  });

  it('is not slowed by a transaction that writes elsewhere and stays open', async function () {
    this.timeout(120_000);
    const other = new pg.Client({ connectionString: h.databaseUrl });
    await other.connect();
    try {
      await other.query('create table if not exists report_rows (id uuid primary key)');
      await other.query('begin');
      await other.query('insert into report_rows (id) values ($1)', [randomUUID()]);
      expectNoneStale(await clients(8, 5), 40);
      await other.query('rollback');
    } finally {
      await other.end();
    }
  });

  it('waits behind an append still in flight, answering 503 rather than stale, and the write once it ends', async function () {
    this.timeout(120_000);
    const held = new pg.Client({ connectionString: h.databaseUrl });
    await held.connect();
    try {
      await held.query('begin');
      await held.query("select * from es_append(array[$1], array['any'], $2::jsonb)", [
        `held-${randomUUID()}`,
        JSON.stringify([[{ i: randomUUID(), t: 'Held', d: {} }]]),
      ]);
      // Every load posted now lies after the open append: no read model may include it before the
      // append ends, and no read may answer without it.
      const posted = await h
        .http()
        .post('/loads')
        .set('Authorization', shipper.auth)
        .send(loadBody(shipper.orgId))
        .expect(201);
      const path = `/loads/${posted.body.loadId}?minPosition=${encodeURIComponent(posted.body.position as string)}`;
      const waited = await h.http().get(path).set('Authorization', shipper.auth);
      expect(waited.status).to.equal(503);
      expect(waited.body.type).to.match(/read-model-behind$/);
      expect(await clients(4, 2)).to.deep.equal({ 503: 8 });
      await held.query('commit');
      const read = await h.http().get(path).set('Authorization', shipper.auth).expect(200);
      expect(read.body.loadId).to.equal(posted.body.loadId);
    } finally {
      await held.end();
    }
  });
});
