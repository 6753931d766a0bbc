import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';

describe('Load and carrier commands over HTTP', () => {
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let otherShipper: { orgId: string; userId: string; auth: string };
  let carrierOrg: { orgId: string; userId: string; auth: string };
  let carrierId: string;

  before(async () => {
    h = await apiHarness('loadcmd');
    shipper = await h.member('shipper', ['shipper']);
    otherShipper = await h.member('broker', ['shipper']);
    carrierOrg = await h.member('carrier', ['carrier', 'driver']);
    const reg = await h
      .http()
      .post('/carriers')
      .set('Authorization', carrierOrg.auth)
      .send(carrierBody(carrierOrg.orgId))
      .expect(201);
    carrierId = reg.body.carrierId;
  });
  after(async () => {
    await h.close();
  });

  const post = (auth: string, path: string, body?: object) => {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  };
  const countEvents = async () =>
    Number((await h.knex('es_events').count<{ count: string }[]>('* as count'))[0]!.count);
  const postLoad = async (overrides: Record<string, unknown> = {}) =>
    (await post(shipper.auth, '/loads', loadBody(shipper.orgId, overrides)).expect(201)).body.loadId as string;

  it('posts a load: 201 with Location, stream, revision 0 and a global position', async () => {
    const res = await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201);
    expect(res.headers.location).to.equal(`/loads/${res.body.loadId}`);
    expect(res.headers.etag).to.equal('"0"');
    expect(res.body).to.include({ streamId: `load-${res.body.loadId}`, revision: '0', replayed: false });
    expect(res.body.events).to.deep.equal(['LoadPosted']);
    expect(res.body.position).to.match(/^\d+\/\d+$/);
    const [stored] = await h.store.readStream(`load-${res.body.loadId}`);
    expect(stored!.metadata).to.include({ actor: shipper.userId });
    expect(stored!.metadata.correlationId).to.be.a('string');
  });

  it('answers a retried command with its first answer and appends nothing new', async () => {
    const key = randomUUID();
    const body = loadBody(shipper.orgId);
    const first = await post(shipper.auth, '/loads', body).set('Idempotency-Key', key).expect(201);
    const before = await countEvents();
    const again = await post(shipper.auth, '/loads', body).set('Idempotency-Key', key).expect(201);
    // The first answer, saying (in its body as in its header) that it is a replay.
    expect(again.body).to.deep.equal({ ...first.body, replayed: true });
    expect(again.headers['idempotent-replayed']).to.equal('true');
    expect(await countEvents()).to.equal(before);
  });

  it('still appends nothing when the idempotency cache was lost: ids derive from the key', async () => {
    const key = randomUUID();
    const body = loadBody(shipper.orgId);
    const first = await post(shipper.auth, '/loads', body).set('Idempotency-Key', key).expect(201);
    await h.redis.del(`idem:${shipper.userId}:${key}`);
    const before = await countEvents();
    const again = await post(shipper.auth, '/loads', body).set('Idempotency-Key', key).expect(201);
    expect(again.body.loadId).to.equal(first.body.loadId);
    expect(again.body).to.include({ replayed: true, revision: '0', position: first.body.position });
    expect(await countEvents()).to.equal(before);
  });

  it('refuses the same Idempotency-Key with a different body (422), and a malformed key (400)', async () => {
    const key = randomUUID();
    await post(shipper.auth, '/loads', loadBody(shipper.orgId)).set('Idempotency-Key', key).expect(201);
    const before = await countEvents();
    const res = await post(shipper.auth, '/loads', loadBody(shipper.orgId, { rateCents: 1 }))
      .set('Idempotency-Key', key)
      .expect(422);
    expect(res.body.type).to.equal('urn:freight:problem:idempotency-key-reused');
    await post(shipper.auth, '/loads', loadBody(shipper.orgId)).set('Idempotency-Key', 'x'.repeat(300)).expect(400);
    expect(await countEvents()).to.equal(before);
  });

  it('frees the key of a refused command so a corrected retry can use it', async () => {
    const loadId = await postLoad();
    const key = randomUUID();
    await post(otherShipper.auth, `/loads/${loadId}/revise`, { rateCents: 200_000 })
      .set('Idempotency-Key', key)
      .expect(404);
    await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 200_000 }).set('Idempotency-Key', key).expect(202);
  });

  it('honours If-Match: a stale revision is a 409 that gives the current one, and appends nothing', async () => {
    const loadId = await postLoad();
    await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 190_000 }).set('If-Match', '"0"').expect(202);
    const before = await countEvents();
    const res = await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 195_000 })
      .set('If-Match', '"0"')
      .expect(409);
    expect(res.body).to.include({ type: 'urn:freight:problem:concurrency-conflict', actualRevision: '1' });
    expect(await countEvents()).to.equal(before);
    await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 195_000 }).set('If-Match', '1').expect(202);
    await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 1 }).set('If-Match', 'yesterday').expect(400);
  });

  it("keeps organisations apart: a shipper neither posts for nor changes another's loads", async () => {
    const loadId = await postLoad();
    const before = await countEvents();
    const forOther = await post(otherShipper.auth, '/loads', loadBody(shipper.orgId)).expect(403);
    expect(forOther.body.type).to.equal('urn:freight:problem:forbidden');
    // Another shipper's load is one it cannot see: the same 404 a read of it gives.
    const revise = await post(otherShipper.auth, `/loads/${loadId}/revise`, { rateCents: 1000 }).expect(404);
    const read = await h.http().get(`/loads/${loadId}`).set('Authorization', otherShipper.auth).expect(404);
    expect({ ...revise.body, instance: undefined, requestId: undefined }).to.deep.equal({
      ...read.body,
      instance: undefined,
      requestId: undefined,
    });
    await post(otherShipper.auth, `/loads/${loadId}/cancel`, { reason: 'mine now' }).expect(404);
    // A carrier cannot post at all (role), nor book for a carrier of another organisation.
    await post(carrierOrg.auth, '/loads', loadBody(carrierOrg.orgId)).expect(403);
    expect(await countEvents()).to.equal(before);
  });

  it('refuses malformed input with 400 (and 413, 415) and changes nothing', async () => {
    const loadId = await postLoad();
    const before = await countEvents();
    const wrongTypes = await post(
      shipper.auth,
      '/loads',
      loadBody(shipper.orgId, { weightLb: 'heavy', equipmentType: 'spaceship' }),
    ).expect(400);
    expect(wrongTypes.body.type).to.equal('urn:freight:problem:validation');
    expect(wrongTypes.body.errors.map((e: { path: string }) => e.path)).to.include.members([
      'weightLb',
      'equipmentType',
    ]);
    const { commodity: _c, origin: _o, ...missing } = loadBody(shipper.orgId);
    const res = await post(shipper.auth, '/loads', missing).expect(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).to.include.members(['commodity', 'origin']);
    await post(shipper.auth, '/loads', loadBody(shipper.orgId, { rateCents: 1.5 })).expect(400);
    await post(
      shipper.auth,
      '/loads',
      loadBody(shipper.orgId, { pickupWindow: { from: '2026-13-40', to: 'soon' } }),
    ).expect(400);
    await post(shipper.auth, '/loads', loadBody(shipper.orgId, { description: 'x'.repeat(400_000) })).expect(413);
    await post(shipper.auth, '/loads').set('Content-Type', 'text/plain').send('hello').expect(415);
    await post(shipper.auth, '/loads').set('Content-Type', 'application/json').send('{"broken":').expect(400);
    await post(shipper.auth, '/loads/not-a-uuid/revise', { rateCents: 5 }).expect(400);
    await post(shipper.auth, `/loads/${loadId}/revise`, {}).expect(400);
    expect(await countEvents()).to.equal(before);
  });

  it('refuses commands the load state does not allow with a clear reason (409) and rules with 422', async () => {
    const loadId = await postLoad();
    // Nobody hauls a posted load: a 403 for every carrier, never a 409 telling them its state.
    const pickup = await post(carrierOrg.auth, `/loads/${loadId}/pickup`).expect(403);
    expect(pickup.body).to.include({ type: 'urn:freight:problem:forbidden' });
    const early = await post(h.admin, `/loads/${loadId}/pickup`).expect(409);
    expect(early.body).to.include({
      type: 'urn:freight:problem:illegal-transition',
      detail: 'Cannot confirm pickup: the load is still posted',
    });
    const past = await post(
      shipper.auth,
      '/loads',
      loadBody(shipper.orgId, { pickupWindow: { from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' } }),
    ).expect(422);
    expect(past.body.type).to.equal('urn:freight:problem:invalid-window');
    const nobody = await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId: randomUUID() }).expect(422);
    expect(nobody.body.type).to.equal('urn:freight:problem:unknown-carrier');
  });

  it('takes a load from posting to delivery: bids, verification, acceptance, assignment, pickup, transit, delivery', async () => {
    const loadId = await postLoad();
    // Not verified yet: refused, the platform's protection against fraud.
    const early = await post(carrierOrg.auth, `/loads/${loadId}/bids`, { carrierId, amountCents: 170_000 }).expect(422);
    expect(early.body).to.include({
      type: 'urn:freight:problem:carrier-not-eligible',
      detail: 'Refused: the carrier is not verified',
    });
    await post(carrierOrg.auth, `/carriers/${carrierId}/verifications`, goodVerification()).expect(403);
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);

    const bids = [];
    for (let i = 0; i < 5; i++)
      bids.push(
        (await post(carrierOrg.auth, `/loads/${loadId}/bids`, { carrierId, amountCents: 170_000 + i }).expect(201)).body
          .bidId,
      );
    const sixth = await post(carrierOrg.auth, `/loads/${loadId}/bids`, { carrierId, amountCents: 1 }).expect(422);
    expect(sixth.body.type).to.equal('urn:freight:problem:bid-limit');
    await post(carrierOrg.auth, `/loads/${loadId}/bids/${bids[4]}/withdraw`).expect(202);
    await post(otherShipper.auth, `/loads/${loadId}/bids/${bids[0]}/accept`).expect(404);
    const accepted = await post(shipper.auth, `/loads/${loadId}/bids/${bids[0]}/accept`).expect(202);
    expect(accepted.body.events).to.deep.equal(['BidAccepted', 'LoadBooked']);
    await post(shipper.auth, `/loads/${loadId}/bids/${randomUUID()}/accept`).expect(404);

    await post(carrierOrg.auth, `/loads/${loadId}/assignment`, {
      driverId: carrierOrg.userId,
      truckId: 'TX-1042',
    }).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/pickup`).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/in-transit`).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/delivery`, { signedBy: 'J. Foreman' }).expect(202);
    const history = await h.store.readStream(`load-${loadId}`);
    expect(history.map((e) => e.type)).to.deep.equal([
      'LoadPosted',
      ...Array(5).fill('BidPlaced'),
      'BidWithdrawn',
      'BidAccepted',
      'LoadBooked',
      'DriverAssigned',
      'LoadPickedUp',
      // No GPS was ever sent for this load: the pickup is recorded, and flagged for review.
      'LoadFlaggedForReview',
      'LoadInTransit',
      'LoadDelivered',
    ]);
  });

  it('books now at the posted rate, and a suspended carrier cannot', async () => {
    const a = await postLoad({ rateCents: 250_000 });
    const b = await postLoad();
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    const booked = await post(carrierOrg.auth, `/loads/${a}/book`, { carrierId }).expect(202);
    expect(booked.body.events).to.deep.equal(['LoadBooked']);
    const [, e] = await h.store.readStream(`load-${a}`);
    expect(e!.data).to.include({ rateCents: 250_000, via: 'book_now', carrierId });
    await post(h.admin, `/carriers/${carrierId}/suspend`, { reason: 'fraud report' }).expect(202);
    const res = await post(carrierOrg.auth, `/loads/${b}/book`, { carrierId }).expect(422);
    expect(res.body.detail).to.equal('Refused: the carrier is suspended');
    await post(h.admin, `/carriers/${carrierId}/reinstate`).expect(202);
    await post(carrierOrg.auth, `/loads/${b}/book`, { carrierId }).expect(202);
  });

  it('cancels before pickup and expires only when due', async () => {
    const loadId = await postLoad();
    const early = await post(h.admin, `/loads/${loadId}/expire`).expect(422);
    expect(early.body.type).to.equal('urn:freight:problem:not-due');
    await post(shipper.auth, `/loads/${loadId}/cancel`, { reason: 'project delayed' }).expect(202);
    const again = await post(shipper.auth, `/loads/${loadId}/cancel`, { reason: 'project delayed' }).expect(202);
    expect(again.body.events).to.deep.equal([]);
  });
});
