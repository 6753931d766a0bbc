import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { organisationEvents } from '../../src/domain/organisation/events.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { loadBody } from '../support/loads.js';
import { buildWorld, type World } from '../support/world.js';
import { organisationStream } from '../../src/domain/organisation/stream.js';

/**
 * What an outside attacker found with the public API after the command routes held: a user id is
 * one person's, staff roles are the platform's, a driver hauls only what is assigned to them, and
 * the organisation a command names is of the kind the command needs.
 */
describe('Identities and parties: no organisation takes another one’s users, staff powers or drivers', function () {
  let h: ApiHarness;
  let w: World;

  before(async function () {
    this.timeout(120_000);
    h = await apiHarness('identity');
    w = await buildWorld(h);
  });
  after(() => h?.close());

  const as = (auth: string, path: string, body?: object) => {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  };
  const victim = () => w.actors['shipperA.shipper'];

  /** Appends a UserAdded to an organisation's stream as if it had passed every check (a race, or history). */
  async function claimInLog(orgId: string, userId: string) {
    const stream = organisationStream(orgId);
    const [last] = await h.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    const { data, schemaVersion } = organisationEvents.encode('UserAdded', {
      userId,
      email: `claim-${randomUUID().slice(0, 6)}@evil.example`,
      name: 'Claim',
      roles: ['driver'],
      addedAt: new Date(),
    });
    await h.store.append(stream, [{ id: randomUUID(), type: 'UserAdded', data, metadata: { schemaVersion } }], {
      expectedRevision: last!.revision,
    });
    await h.settle();
  }

  it("refuses to add another organisation's user, whose id shows in load histories", async () => {
    const history = (
      await h
        .http()
        .get(`/loads/${w.loads.posted}`)
        .set('Authorization', w.actors['carrierB.dispatcher'].auth)
        .expect(200)
    ).body.history;
    expect(history[0].actor).to.equal(victim().userId);
    const res = await as(w.actors['carrierB.dispatcher'].auth, `/orgs/${w.orgs.carrierB}/users`, {
      userId: victim().userId,
      email: 'mole@evil.example',
      name: 'Mole',
      roles: ['driver'],
    }).expect(422);
    expect(res.body.type).to.equal('urn:freight:problem:user-id-taken');
    await h.http().get('/loads').set('Authorization', victim().auth).expect(200);
  });

  it('keeps a user (and platform staff) where they were when another organisation claims the id anyway', async () => {
    await claimInLog(w.orgs.carrierB, victim().userId);
    const adminId = randomUUID();
    const admin = `Bearer ${await h.token({ userId: adminId, orgId: h.platformOrgId, roles: ['admin'] })}`;
    await claimInLog(w.orgs.carrierB, adminId);
    // Neither is locked out, nor becomes carrier B's.
    await h.http().get('/loads').set('Authorization', victim().auth).expect(200);
    await h.http().get('/admin/jobs').set('Authorization', admin).expect(200);
    const members = (
      await h.http().get(`/orgs/${w.orgs.shipperA}`).set('Authorization', h.admin).expect(200)
    ).body.users.map((u: { userId: string }) => u.userId);
    expect(members).to.include(victim().userId);
    const claimed = `Bearer ${await h.token({ userId: victim().userId, orgId: w.orgs.carrierB, roles: ['driver'] })}`;
    await h.http().get('/loads').set('Authorization', claimed).expect(401);
  });

  it('gives staff roles to no customer organisation, and ignores any the log holds', async () => {
    const res = await as(h.admin, `/orgs/${w.orgs.shipperA}/users`, {
      email: `boss-${randomUUID().slice(0, 6)}@example.com`,
      name: 'Boss',
      roles: ['shipper', 'admin'],
    }).expect(422);
    expect(res.body.type).to.equal('urn:freight:problem:role-not-allowed');
    // Even a grant in the log (as an earlier version allowed) acts as nothing platform-wide.
    const stream = organisationStream(w.orgs.shipperA);
    const [last] = await h.store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    const userId = randomUUID();
    const { data, schemaVersion } = organisationEvents.encode('UserAdded', {
      userId,
      email: `old-${userId.slice(0, 6)}@example.com`,
      name: 'Old admin',
      roles: ['shipper', 'admin'],
      addedAt: new Date(),
    });
    await h.store.append(stream, [{ id: randomUUID(), type: 'UserAdded', data, metadata: { schemaVersion } }], {
      expectedRevision: last!.revision,
    });
    await h.settle();
    const token = `Bearer ${await h.token({ userId, orgId: w.orgs.shipperA, roles: ['shipper', 'admin'] })}`;
    await h.http().get('/admin/jobs').set('Authorization', token).expect(403);
    const other = (await as(w.actors['shipperB.shipper'].auth, '/loads', loadBody(w.orgs.shipperB)).expect(201)).body
      .loadId;
    await as(token, `/loads/${other}/cancel`, { reason: 'mine now' }).expect(404);
  });

  it('lets a driver haul only a load assigned to them, and assigns only the carrier’s own drivers', async () => {
    const colleague = await as(h.admin, `/orgs/${w.orgs.carrierA}/users`, {
      email: `d2-${randomUUID().slice(0, 6)}@example.com`,
      name: 'Dee',
      roles: ['driver'],
    }).expect(201);
    await h.settle();
    const other = `Bearer ${await h.token({ userId: colleague.body.userId, orgId: w.orgs.carrierA, roles: ['driver'] })}`;
    expect((await as(other, `/loads/${w.loads.picked_up}/in-transit`)).status).to.equal(403);
    expect((await as(other, `/loads/${w.loads.picked_up}/delivery`, { signedBy: 'Not me' })).status).to.equal(403);
    const dispatcher = w.actors['carrierA.dispatcher'].auth;
    for (const driverId of [
      w.actors['carrierB.driver'].userId,
      randomUUID(),
      w.actors['shipperA.shipper'].userId,
      w.actors['carrierA.carrier'].userId,
    ]) {
      const res = await as(dispatcher, `/loads/${w.loads.booked}/assignment`, { driverId, truckId: 'T-1' }).expect(422);
      expect(res.body.type).to.equal('urn:freight:problem:not-a-driver');
    }
    await as(dispatcher, `/loads/${w.loads.booked}/assignment`, {
      driverId: colleague.body.userId,
      truckId: 'T-1',
    }).expect(202);
  });

  it('posts loads for shipper and broker organisations only, and registers carriers for carrier organisations only', async () => {
    for (const orgId of [w.orgs.carrierA, randomUUID()]) {
      const res = await as(h.admin, '/loads', loadBody(orgId)).expect(422);
      expect(res.body.type).to.equal('urn:freight:problem:not-a-shipper');
    }
    await as(w.actors['carrierA.dispatcher'].auth, '/loads', loadBody(w.orgs.carrierA)).expect(422);
    const carrier = {
      usdotNumber: '7654321',
      legalName: 'Nope LLC',
      equipment: ['flatbed'],
      homeBase: { city: 'Houston', state: 'TX', lat: 29.76, lng: -95.37 },
    };
    for (const orgId of [w.orgs.shipperA, randomUUID()]) {
      const res = await as(h.admin, '/carriers', { ...carrier, orgId }).expect(422);
      expect(res.body.type).to.equal('urn:freight:problem:not-a-carrier');
    }
  });
});
