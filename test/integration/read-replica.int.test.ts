import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';

describe('Queries on a read replica (DATABASE_READ_URL)', () => {
  let h: ApiHarness;
  const queried: string[] = [];
  before(async () => {
    h = await apiHarness('read_replica', {}, { readReplica: true });
    h.readKnex.on('query', (q: { sql: string }) => queried.push(q.sql));
  });
  after(() => h?.close());

  it('answers every query from the read pool while commands go to the primary, and the read pool cannot write', async () => {
    const shipper = await h.member('shipper', ['shipper']);
    const carrier = await h.member('carrier', ['carrier']);
    const carrierId = (
      await h.http().post('/carriers').set('Authorization', carrier.auth).send(carrierBody(carrier.orgId)).expect(201)
    ).body.carrierId as string;
    await h
      .http()
      .post(`/carriers/${carrierId}/verifications`)
      .set('Authorization', h.admin)
      .send(goodVerification())
      .expect(202);
    const posted = await h
      .http()
      .post('/loads')
      .set('Authorization', shipper.auth)
      .send(loadBody(shipper.orgId))
      .expect(201);
    const loadId = posted.body.loadId as string;

    queried.length = 0;
    // Read your write through the replica: the wait reads its checkpoint there too.
    const one = await h
      .http()
      .get(`/loads/${loadId}?minPosition=${encodeURIComponent(posted.body.position as string)}`)
      .set('Authorization', shipper.auth)
      .expect(200);
    expect(one.body.loadId).to.equal(loadId);
    const board = await h.http().get('/loads?limit=5').set('Authorization', carrier.auth).expect(200);
    expect(board.body.items.map((l: { loadId: string }) => l.loadId)).to.include(loadId);
    await h.http().get(`/orgs/${shipper.orgId}`).set('Authorization', shipper.auth).expect(200);
    await h.settle();
    await h.http().get(`/carriers/${carrierId}`).set('Authorization', h.admin).expect(200);
    await h.http().get('/ledger/balances').set('Authorization', h.admin).expect(200);
    const tables = [
      'load_board',
      'load_status_history',
      'organisations',
      'carrier_directory',
      'ledger_entries',
      'projection_generations',
    ];
    for (const t of tables)
      expect(
        queried.some((sql) => sql.includes(t)),
        `${t} read from the read pool`,
      ).to.equal(true);

    // Commands do not touch the read pool.
    queried.length = 0;
    await h.http().post(`/loads/${loadId}/book`).set('Authorization', carrier.auth).send({ carrierId }).expect(202);
    expect(queried).to.deep.equal([]);

    // A write sent there by mistake fails, as on a replica.
    const write = await h.readKnex.raw(`update load_board set rate_cents = 1 where load_id = ?`, [loadId]).then(
      () => 'written',
      (err: Error) => err.message,
    );
    expect(write).to.match(/read-only transaction/);

    const ready = await h.http().get('/ready').expect(200);
    expect(ready.body.checks.readReplica).to.include({ ok: true });
  });
});
