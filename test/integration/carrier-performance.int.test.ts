import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PERFORMANCE_ACTOR } from '../../src/jobs/processors/loads.js';
import { type LoadEvent, loadEvents } from '../../src/domain/load/events.js';
import type { AtLeastOnceProjector } from '../../src/projections/types.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';

describe("A carrier's performance score, from load events", () => {
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let carrierOrg: { orgId: string; userId: string; auth: string };
  let carrierId: string;

  before(async () => {
    h = await apiHarness('carrier_perf');
    shipper = await h.member('shipper', ['shipper']);
    carrierOrg = await h.member('carrier', ['carrier', 'driver']);
    carrierId = (await post(carrierOrg.auth, '/carriers', carrierBody(carrierOrg.orgId)).expect(201)).body.carrierId;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
  });
  after(() => h.close());

  function post(auth: string, path: string, body?: object) {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  }
  const performance = async () => {
    await h.settle();
    return (await h.http().get(`/carriers/${carrierId}`).set('Authorization', h.admin).expect(200)).body.performance;
  };
  const carrierEvents = () => h.store.readStream(`carrier-${carrierId}`);
  const bookedLoad = async () => {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId as string;
    await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    return loadId;
  };

  it('starts at 100 with no history', async () => {
    expect(await performance()).to.deep.equal({ onTime: 0, late: 0, cancelled: 0, score: 100 });
  });

  it('counts a delivery inside the window as on time, caused by the delivery event', async () => {
    const loadId = await bookedLoad();
    await post(carrierOrg.auth, `/loads/${loadId}/assignment`, { driverId: carrierOrg.userId, truckId: 'T-1' }).expect(
      202,
    );
    await post(carrierOrg.auth, `/loads/${loadId}/pickup`).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/delivery`, { signedBy: 'J. Doe' }).expect(202);
    expect(await performance()).to.deep.equal({ onTime: 1, late: 0, cancelled: 0, score: 100 });
    const delivered = (await h.store.readStream(`load-${loadId}`)).find((e) => e.type === 'LoadDelivered')!;
    const updated = (await carrierEvents()).filter((e) => e.type === 'CarrierPerformanceUpdated');
    expect(updated).to.have.length(1);
    expect(updated[0]!.metadata).to.include({
      causationId: delivered.id,
      correlationId: delivered.metadata.correlationId,
      actor: PERFORMANCE_ACTOR,
    });
  });

  it('counts a released booking as a cancellation, and puts the load back on the board', async () => {
    const loadId = await bookedLoad();
    await post(shipper.auth, `/loads/${loadId}/booking/release`, { reason: 'x' }).expect(403);
    const res = await post(carrierOrg.auth, `/loads/${loadId}/booking/release`, { reason: 'truck broke down' }).expect(
      202,
    );
    expect(res.body.events).to.deep.equal(['LoadBookingReleased']);
    expect(await performance()).to.deep.equal({ onTime: 1, late: 0, cancelled: 1, score: 50 });
    const board = await h.http().get(`/loads/${loadId}`).set('Authorization', shipper.auth).expect(200);
    expect(board.body).to.deep.include({ status: 'posted' });
    expect(board.body.carrierId ?? null).to.equal(null);
    // Released again? It is no longer booked, by this carrier or anyone: not the carrier's to release.
    const again = await post(carrierOrg.auth, `/loads/${loadId}/booking/release`, { reason: 'x' }).expect(403);
    expect(again.body.type).to.equal('urn:freight:problem:forbidden');
  });

  it('does not hold a shipper cancelling a booked load against the carrier', async () => {
    const loadId = await bookedLoad();
    await post(shipper.auth, `/loads/${loadId}/cancel`, { reason: 'project postponed' }).expect(202);
    expect(await performance()).to.deep.equal({ onTime: 1, late: 0, cancelled: 1, score: 50 });
  });

  it('counts a delivery after the window as late', async () => {
    // History as the log would hold it for a load delivered two days after its window closed
    // (the API cannot post a window in the past, so the events are appended as stored).
    const loadId = randomUUID();
    const day = (d: number) => new Date(Date.now() + d * 86_400_000);
    const iso = (d: number) => day(d).toISOString();
    const postedJson = {
      ...loadBody(shipper.orgId),
      pickupWindow: { from: iso(-5), to: iso(-4) },
      deliveryWindow: { from: iso(-4), to: iso(-3) },
      loadId,
      tripMiles: 240,
      tripMilesEstimated: true,
      postedAt: iso(-6),
      expiresAt: iso(-4),
    };
    const history: LoadEvent[] = [
      {
        type: 'LoadPosted',
        data: loadEvents.decode({ type: 'LoadPosted', data: postedJson, metadata: {} }),
      } as LoadEvent,
      {
        type: 'LoadBooked',
        data: { carrierId, carrierOrgId: carrierOrg.orgId, rateCents: 180_000, via: 'book_now', bookedAt: day(-5.5) },
      },
      { type: 'DriverAssigned', data: { driverId: randomUUID(), truckId: 'T-2', assignedAt: day(-5.2) } },
      { type: 'LoadPickedUp', data: { pickedUpAt: day(-4.5) } },
      { type: 'LoadDelivered', data: { deliveredAt: day(-1), proofOfDelivery: { signedBy: 'Late Larry' } } },
    ];
    await h.store.append(
      `load-${loadId}`,
      history.map((e) => {
        const { data, schemaVersion } = loadEvents.encode(e.type, e.data);
        return { id: randomUUID(), type: e.type, data, metadata: { schemaVersion } };
      }),
    );
    expect(await performance()).to.deep.equal({ onTime: 1, late: 1, cancelled: 1, score: 50 });
  });

  it('appends nothing more when the reactor sees the same events again', async () => {
    const reactor = h.projectors.find((p) => p.name === 'carrier_performance') as AtLeastOnceProjector;
    const before = await carrierEvents();
    const all = await h.store.readAll({
      filter: { eventTypes: [...(reactor.eventTypes as string[])], streamPrefixes: ['load-'] },
    });
    expect(all.length).to.be.greaterThan(2);
    await reactor.apply(all, 1);
    await reactor.apply(all.slice(1), 1);
    expect((await carrierEvents()).map((e) => e.id)).to.deep.equal(before.map((e) => e.id));
  });
});
