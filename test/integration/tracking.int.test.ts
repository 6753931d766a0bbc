import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { AtLeastOnceProjector } from '../../src/projections/types.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';

type Member = { orgId: string; userId: string; auth: string };

describe('GPS tracking over HTTP', () => {
  let h: ApiHarness;
  let shipper: Member;
  let stranger: Member;
  let carrier: Member;
  let otherDriver: Member;
  let loadId: string;
  // Loads are posted around Houston; the truck is just outside it.
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const ping = (o: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    lat: 29.9,
    lng: -95.4,
    speedMph: 55,
    headingDeg: 90,
    accuracyM: 8,
    recordedAt: at(1),
    ...o,
  });
  const post = (auth: string, path: string, body?: object) => {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  };
  const get = (auth: string, path: string) => h.http().get(path).set('Authorization', auth);
  const trackingEvents = async (id = loadId) => h.store.readStream(`tracking-${id}`);

  before(async () => {
    h = await apiHarness('tracking');
    shipper = await h.member('shipper', ['shipper']);
    stranger = await h.member('shipper', ['shipper']);
    carrier = await h.member('carrier', ['carrier', 'driver']);
    otherDriver = await h.member('carrier', ['driver']);
    const carrierId = (await post(carrier.auth, '/carriers', carrierBody(carrier.orgId)).expect(201)).body.carrierId;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await post(carrier.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    await post(carrier.auth, `/loads/${loadId}/assignment`, { driverId: carrier.userId, truckId: 'TRK-7' }).expect(202);
    await h.settle();
  });
  after(() => h.close());

  it('keeps the good pings of a batch and reports the bad ones by index', async () => {
    const before = (await trackingEvents()).length;
    const res = await post(carrier.auth, '/tracking/pings', {
      pings: [
        ping(),
        ping({ lat: 91 }),
        ping({ recordedAt: new Date(Date.now() + 3_600_000).toISOString() }),
        ping({ recordedAt: at(60 * 24 * 10) }),
        ping({ speedMph: 300 }),
        { lat: 29, lng: -95 },
        ping({ lng: -95.41 }),
      ],
    }).expect(202);
    expect(res.body).to.include({ loadId, accepted: 2 });
    expect(res.body.position).to.match(/^\d+\/\d+$/);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(res.body.rejected[1].errors.join()).to.match(/future/);
    expect(res.body.rejected[2].errors.join()).to.match(/older than 72 hours/);
    expect(res.body.rejected[3].errors.join()).to.match(/speedMph/);
    expect(res.body.rejected[4].errors.join()).to.match(/id/);
    expect((await trackingEvents()).length).to.equal(before + 2);
    // Who drove is not in the ping.
    const [last] = (await trackingEvents()).slice(-1);
    expect(JSON.stringify(last!.data)).to.not.include(carrier.userId);
    expect(last!.metadata.actor).to.equal(undefined);
  });

  it('refuses a batch with no good ping (422) and appends nothing', async () => {
    const before = (await trackingEvents()).length;
    const res = await post(carrier.auth, '/tracking/pings', {
      pings: [ping({ lat: -100 }), ping({ speedMph: -1 })],
    }).expect(422);
    expect(res.body.type).to.equal('urn:freight:problem:validation');
    expect(res.body.rejected).to.have.length(2);
    await post(carrier.auth, '/tracking/pings', { pings: [] }).expect(400);
    await post(carrier.auth, '/tracking/pings', { pings: Array.from({ length: 501 }, () => ping()) }).expect(400);
    expect((await trackingEvents()).length).to.equal(before);
  });

  it('takes pings only from the driver hauling the load, and only from drivers', async () => {
    const res = await post(otherDriver.auth, '/tracking/pings', { pings: [ping()] }).expect(409);
    expect(res.body.type).to.equal('urn:freight:problem:no-load-to-track');
    // Naming another organisation's load being hauled: the 404 a read of it gives, not who hauls it.
    const named = await post(otherDriver.auth, '/tracking/pings', { loadId, pings: [ping()] }).expect(404);
    expect(named.body).to.include({ type: 'urn:freight:problem:not-found', detail: `No load ${loadId}` });
    await post(shipper.auth, '/tracking/pings', { pings: [ping()] }).expect(403);
  });

  it('stores a retried batch once, and of a batch mixing old and new pings only the new', async () => {
    const batch = [ping({ recordedAt: at(30) }), ping({ recordedAt: at(29) })];
    const before = (await trackingEvents()).length;
    await post(carrier.auth, '/tracking/pings', { pings: batch }).expect(202);
    await post(carrier.auth, '/tracking/pings', { pings: batch }).expect(202);
    expect((await trackingEvents()).length).to.equal(before + 2);
    const mixed = await post(carrier.auth, '/tracking/pings', {
      pings: [batch[1], ping({ recordedAt: at(28) }), batch[0], batch[0]],
    }).expect(202);
    expect(mixed.body.accepted).to.equal(3);
    const events = await trackingEvents();
    expect(events.length).to.equal(before + 3);
    expect(new Set(events.map((e) => (e.data as { pingId: string }).pingId)).size).to.equal(events.length);
  });

  it('never moves the latest location backwards for a ping that arrives late', async () => {
    const newer = ping({ lat: 30.1, lng: -95.5, recordedAt: at(0.2) });
    const older = ping({ lat: 30.0, lng: -95.45, recordedAt: at(0.5) });
    await post(carrier.auth, '/tracking/pings', { pings: [newer] }).expect(202);
    await post(carrier.auth, '/tracking/pings', { pings: [older] }).expect(202);
    await h.settle();
    const latest = await get(shipper.auth, `/tracking/${loadId}/latest`).expect(200);
    expect(latest.body).to.deep.include({ loadId, status: 'assigned', truckId: 'TRK-7', active: true });
    expect(latest.body.location).to.include({ lat: 30.1, lng: -95.5, recordedAt: newer.recordedAt });
    // Both are in the track, in time order.
    const track = await get(carrier.auth, `/tracking/${loadId}/history`).expect(200);
    const times = track.body.points.map((p: { recordedAt: string }) => p.recordedAt);
    expect(times).to.deep.equal([...times].sort());
    expect(track.body.points.map((p: { pingId: string }) => p.pingId)).to.include.members([newer.id, older.id]);
  });

  it('shows the location to the shipper and the carrier, and to nobody else', async () => {
    await get(carrier.auth, `/tracking/${loadId}/latest`).expect(200);
    await get(h.admin, `/tracking/${loadId}/latest`).expect(200);
    await get(stranger.auth, `/tracking/${loadId}/latest`).expect(404);
    await get(stranger.auth, `/tracking/${loadId}/history`).expect(404);
    await get(shipper.auth, `/tracking/${randomUUID()}/latest`).expect(404);
    await get(shipper.auth, '/tracking/not-a-uuid/latest').expect(400);
  });

  it('lists loads being hauled near a point, nearest first, to those who may see them', async () => {
    const near = await get(carrier.auth, '/tracking/nearby?lat=30.1&lng=-95.5&radiusMi=10').expect(200);
    expect(near.body.items.map((i: { loadId: string }) => i.loadId)).to.include(loadId);
    expect(near.body.items[0].distanceMi).to.be.below(1);
    const far = await get(carrier.auth, '/tracking/nearby?lat=40.7&lng=-74&radiusMi=10').expect(200);
    expect(far.body.items.map((i: { loadId: string }) => i.loadId)).to.not.include(loadId);
    const hidden = await get(stranger.auth, '/tracking/nearby?lat=30.1&lng=-95.5&radiusMi=10').expect(200);
    expect(hidden.body.items.map((i: { loadId: string }) => i.loadId)).to.not.include(loadId);
    await get(carrier.auth, '/tracking/nearby?lat=95&lng=-95.5&radiusMi=10').expect(400);
  });

  it('thins a long track to maxPoints, keeping the first and last, and cuts it by time', async () => {
    const id = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    const carrierId = (await h.knex('carrier_directory').where('org_id', carrier.orgId).first('carrier_id')).carrier_id;
    await post(carrier.auth, `/loads/${id}/book`, { carrierId }).expect(202);
    await post(carrier.auth, `/loads/${id}/assignment`, { driverId: carrier.userId, truckId: 'TRK-8' }).expect(202);
    const pings = Array.from({ length: 50 }, (_, i) => ping({ recordedAt: at(100 - i), lat: 29 + i * 0.01 }));
    await post(carrier.auth, '/tracking/pings', { loadId: id, pings }).expect(202);
    await h.settle();
    const all = await get(shipper.auth, `/tracking/${id}/history`).expect(200);
    expect(all.body).to.include({ total: 50 });
    expect(all.body.points).to.have.length(50);
    const thin = await get(shipper.auth, `/tracking/${id}/history?maxPoints=10`).expect(200);
    expect(thin.body.points.length).to.be.at.most(10).and.at.least(8);
    expect(thin.body.points[0].pingId).to.equal(pings[0]!.id);
    expect(thin.body.points.at(-1).pingId).to.equal(pings[49]!.id);
    const slice = await get(
      shipper.auth,
      `/tracking/${id}/history?from=${encodeURIComponent(pings[10]!.recordedAt)}&to=${encodeURIComponent(pings[19]!.recordedAt)}`,
    ).expect(200);
    expect(slice.body.points.map((p: { pingId: string }) => p.pingId)).to.deep.equal(
      pings.slice(10, 20).map((p) => p.id),
    );
    await get(
      shipper.auth,
      `/tracking/${id}/history?from=${encodeURIComponent(at(1))}&to=${encodeURIComponent(at(5))}`,
    ).expect(400);
  });

  it('drops a delivered load from the nearby trucks, keeping its last location readable', async () => {
    await post(carrier.auth, `/loads/${loadId}/pickup`).expect(202);
    await post(carrier.auth, `/loads/${loadId}/delivery`, { signedBy: 'J. Doe' }).expect(202);
    await h.settle();
    const near = await get(carrier.auth, '/tracking/nearby?lat=30.1&lng=-95.5&radiusMi=10').expect(200);
    expect(near.body.items.map((i: { loadId: string }) => i.loadId)).to.not.include(loadId);
    const latest = await get(shipper.auth, `/tracking/${loadId}/latest`).expect(200);
    expect(latest.body).to.deep.include({ status: 'delivered', active: false });
    expect(latest.body.location).to.include({ lat: 30.1 });
    await post(carrier.auth, '/tracking/pings', { loadId, pings: [ping()] }).expect(409);
  });

  describe('Geofences and the pickup check', () => {
    // loadBody picks up in Houston and delivers in Dallas.
    const HOUSTON = { lat: 29.7604, lng: -95.3698 };
    const DALLAS = { lat: 32.7767, lng: -96.797 };
    const assignedLoad = async () => {
      const id = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId as string;
      const carrierId = (await h.knex('carrier_directory').where('org_id', carrier.orgId).first('carrier_id'))
        .carrier_id;
      await post(carrier.auth, `/loads/${id}/book`, { carrierId }).expect(202);
      await post(carrier.auth, `/loads/${id}/assignment`, {
        driverId: carrier.userId,
        truckId: `TRK-${id.slice(0, 4)}`,
      }).expect(202);
      return id;
    };
    const events = async (id: string) => (await h.store.readStream(`load-${id}`)).map((e) => e.type);
    const boardRow = async (id: string) => (await get(shipper.auth, `/loads/${id}`).expect(200)).body;

    it('records arriving at pickup and at delivery once each, from the pings, and takes a pickup the GPS confirms', async () => {
      const id = await assignedLoad();
      // On the way (10 mi out), then at the dock, then still there.
      const atDock = ping({ ...HOUSTON, lat: HOUSTON.lat + 0.002, recordedAt: at(3) });
      await post(carrier.auth, '/tracking/pings', {
        loadId: id,
        pings: [
          ping({ ...HOUSTON, lat: HOUSTON.lat + 0.15, recordedAt: at(6) }),
          atDock,
          ping({ ...HOUSTON, recordedAt: at(2) }),
        ],
      }).expect(202);
      await h.settle();
      const afterPings = await h.store.readStream(`load-${id}`);
      const arrived = afterPings.filter((e) => e.type === 'LoadArrived');
      expect(arrived).to.have.length(1);
      expect(arrived[0]!.data).to.include({ site: 'pickup', arrivedAt: atDock.recordedAt });
      expect(arrived[0]!.metadata).to.include({ actor: 'system:geofence' });
      expect((await boardRow(id)).assignment.arrivedAtPickup).to.equal(atDock.recordedAt);

      const pickup = await post(carrier.auth, `/loads/${id}/pickup`).expect(202);
      expect(pickup.body.events).to.deep.equal(['LoadPickedUp']);
      await post(carrier.auth, '/tracking/pings', {
        loadId: id,
        pings: [ping({ ...DALLAS, lat: DALLAS.lat - 0.003, recordedAt: at(0.1) })],
      }).expect(202);
      await h.settle();
      expect((await events(id)).filter((t) => t === 'LoadArrived')).to.have.length(2);
      expect((await boardRow(id)).assignment.arrivedAtDelivery).to.be.a('string');
      expect((await boardRow(id)).review).to.equal(null);
    });

    it('flags a pickup confirmed while the truck is far away, and lists it among flagged loads', async () => {
      const id = await assignedLoad();
      await post(carrier.auth, '/tracking/pings', {
        loadId: id,
        pings: [ping({ ...DALLAS, recordedAt: at(1) })],
      }).expect(202);
      await h.settle();
      const pickup = await post(carrier.auth, `/loads/${id}/pickup`).expect(202);
      expect(pickup.body.events).to.deep.equal(['LoadPickedUp', 'LoadFlaggedForReview']);
      const [flag] = (await h.store.readStream(`load-${id}`)).filter((e) => e.type === 'LoadFlaggedForReview');
      expect(flag!.data).to.include({ reason: 'far_from_site', check: 'pickup' });
      await h.settle();
      expect((await boardRow(id)).review).to.include({ reason: 'far_from_site' });
      const flagged = await get(h.admin, '/loads?status=picked_up&flagged=true').expect(200);
      expect(flagged.body.items.map((l: { loadId: string }) => l.loadId)).to.include(id);
      const clean = await get(h.admin, '/loads?status=picked_up&flagged=false').expect(200);
      expect(clean.body.items.map((l: { loadId: string }) => l.loadId)).to.not.include(id);
    });

    it('flags a pickup whose last fix is stale, even one taken at the dock', async () => {
      const id = await assignedLoad();
      await post(carrier.auth, '/tracking/pings', {
        loadId: id,
        pings: [ping({ ...HOUSTON, recordedAt: at(40) })],
      }).expect(202);
      await h.settle();
      const pickup = await post(carrier.auth, `/loads/${id}/pickup`).expect(202);
      expect(pickup.body.events).to.deep.equal(['LoadPickedUp', 'LoadFlaggedForReview']);
      await h.settle();
      expect((await boardRow(id)).review).to.include({ reason: 'stale_location' });
    });

    it('appends no arrival twice when the reactor sees the same pings again', async () => {
      const id = await assignedLoad();
      await post(carrier.auth, '/tracking/pings', {
        loadId: id,
        pings: [ping({ ...HOUSTON, recordedAt: at(1) })],
      }).expect(202);
      await h.settle();
      const reactor = h.projectors.find((p) => p.name === 'geofence') as AtLeastOnceProjector;
      const pings = await h.store.readStream(`tracking-${id}`);
      await reactor.apply(pings, 1);
      await reactor.apply(pings, 1);
      expect((await events(id)).filter((t) => t === 'LoadArrived')).to.have.length(1);
    });
  });
});
