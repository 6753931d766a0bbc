import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type LoadEvent, loadEvents } from '../../src/domain/load/events.js';
import { organisationEvents } from '../../src/domain/organisation/events.js';
import { type CarrierEvent, carrierEvents } from '../../src/domain/carrier/events.js';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { carrierDirectoryProjector } from '../../src/read-models/carrier-directory/projector.js';
import { loadBoardProjector } from '../../src/read-models/load-board/projector.js';
import type { PostgresProjector } from '../../src/projections/types.js';
import { tableNames } from '../../src/projections/types.js';
import { freshDatabase } from '../support/services.js';
import {
  CARRIER_ID,
  CARRIER_ORG,
  details,
  DRIVER_ID,
  hours,
  LOAD_ID,
  SHIPPER_ORG,
  bidId,
} from '../unit/domain/load-fixtures.js';

let seq = 0n;
/** A stored event as the runner hands it over: encoded data, a position, a revision. */
function recorded(
  registry: typeof loadEvents,
  streamId: string,
  revision: number,
  e: { type: string; data: unknown },
  actor = 'u-1',
): RecordedEvent {
  seq++;
  const { data, schemaVersion } = registry.encode(e.type, e.data);
  return {
    id: randomUUID(),
    type: e.type,
    streamId,
    revision: BigInt(revision),
    position: { commit: 500n, prepare: seq },
    data,
    metadata: { actor, schemaVersion },
    createdAt: hours(revision),
  };
}

describe('The load board projection', () => {
  let knex: Knex;
  const t = tableNames(77);
  const run = (p: PostgresProjector, events: RecordedEvent[]) => knex.transaction((trx) => p.apply(trx, events, t));
  const board = () => knex(t('load_board')).where('load_id', LOAD_ID).first();
  const history = () => knex(t('load_status_history')).where('load_id', LOAD_ID).orderBy('revision').select();
  const stream = `load-${LOAD_ID}`;
  let rev = 0;
  const load = (e: LoadEvent) => recorded(loadEvents, stream, rev++, e);
  const posted: LoadEvent = {
    type: 'LoadPosted',
    data: {
      ...details,
      loadId: LOAD_ID,
      tripMiles: 290,
      tripMilesEstimated: true,
      postedAt: hours(0),
      expiresAt: hours(30),
    },
  };

  before(async () => {
    knex = createKnex(await freshDatabase('load_board'), 2);
  });
  beforeEach(async () => {
    rev = 0;
    await knex.transaction(async (trx) => {
      for (const table of [...loadBoardProjector.tables, ...carrierDirectoryProjector.tables])
        await trx.schema.dropTableIfExists(t(table));
      await loadBoardProjector.setup(trx, t);
      for (const sql of loadBoardProjector.indexes!(t)) await trx.raw(sql);
      await carrierDirectoryProjector.setup(trx, t);
    });
  });
  after(() => knex.destroy());

  it('adds a posted load with its shipper name, derived rate per mile, and a history entry', async () => {
    await run(loadBoardProjector, [
      recorded(organisationEvents, `organisation-${SHIPPER_ORG}`, 0, {
        type: 'OrganisationRegistered',
        data: { orgId: SHIPPER_ORG, name: 'Gulf Steel', kind: 'shipper', registeredAt: hours(-5) },
      }),
    ]);
    await run(loadBoardProjector, [load(posted)]);
    const row = await board();
    expect(row).to.include({
      status: 'posted',
      shipper_name: 'Gulf Steel',
      commodity: details.commodity,
      equipment_type: 'flatbed',
      trip_miles: 290,
      origin_state: 'TX',
      open_bids: 0,
    });
    expect(row.rate_per_mile_cents).to.equal(Math.round(details.rateCents / 290));
    expect(row.pickup_from.toISOString()).to.equal(details.pickupWindow.from.toISOString());
    expect((await history()).map((h) => [h.status, h.event_type, h.actor])).to.deep.equal([
      ['posted', 'LoadPosted', 'u-1'],
    ]);
  });

  it('fills the shipper name in when the organisation arrives after the load', async () => {
    await run(loadBoardProjector, [load(posted)]);
    expect((await board()).shipper_name).to.equal(null);
    await run(loadBoardProjector, [
      recorded(organisationEvents, `organisation-${SHIPPER_ORG}`, 0, {
        type: 'OrganisationRegistered',
        data: { orgId: SHIPPER_ORG, name: 'Gulf Steel', kind: 'shipper', registeredAt: hours(1) },
      }),
    ]);
    expect((await board()).shipper_name).to.equal('Gulf Steel');
  });

  it('applies a revision of rate and windows, keeping rate per mile in step', async () => {
    await run(loadBoardProjector, [load(posted)]);
    await run(loadBoardProjector, [
      load({
        type: 'LoadRevised',
        data: {
          rateCents: 290_000,
          pickupWindow: { from: hours(5), to: hours(9) },
          expiresAt: hours(9),
          revisedAt: hours(1),
        },
      }),
    ]);
    const row = await board();
    expect(row).to.include({ rate_cents: 290_000, rate_per_mile_cents: 1000, revision: '1' });
    expect(row.pickup_to.toISOString()).to.equal(hours(9).toISOString());
    expect(row.expires_at.toISOString()).to.equal(hours(9).toISOString());
  });

  it('counts bids placed, withdrawn and accepted, then the booking, assignment, pickup, transit and delivery', async () => {
    const carrier = { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG };
    await run(loadBoardProjector, [
      load(posted),
      load({ type: 'BidPlaced', data: { bidId: bidId(1), ...carrier, amountCents: 100_000, placedAt: hours(1) } }),
      load({ type: 'BidPlaced', data: { bidId: bidId(2), ...carrier, amountCents: 110_000, placedAt: hours(1) } }),
      load({ type: 'BidPlaced', data: { bidId: bidId(3), ...carrier, amountCents: 120_000, placedAt: hours(1) } }),
    ]);
    expect(await board()).to.include({ open_bids: 3, bid_count: 3 });
    await run(loadBoardProjector, [
      load({ type: 'BidWithdrawn', data: { bidId: bidId(3), carrierId: CARRIER_ID, withdrawnAt: hours(2) } }),
    ]);
    expect(await board()).to.include({ open_bids: 2, bid_count: 3 });
    await run(loadBoardProjector, [
      load({
        type: 'BidAccepted',
        data: { bidId: bidId(1), carrierId: CARRIER_ID, amountCents: 100_000, acceptedAt: hours(3) },
      }),
      load({
        type: 'LoadBooked',
        data: { ...carrier, rateCents: 100_000, via: 'bid', bidId: bidId(1), bookedAt: hours(3) },
      }),
    ]);
    expect(await board()).to.include({
      status: 'booked',
      open_bids: 1,
      carrier_id: CARRIER_ID,
      carrier_org_id: CARRIER_ORG,
      booked_rate_cents: 100_000,
    });
    await run(loadBoardProjector, [
      load({ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-9', assignedAt: hours(4) } }),
    ]);
    expect(await board()).to.include({ status: 'assigned', driver_id: DRIVER_ID, truck_id: 'T-9' });
    await run(loadBoardProjector, [load({ type: 'LoadPickedUp', data: { pickedUpAt: hours(5) } })]);
    expect(await board()).to.include({ status: 'picked_up' });
    await run(loadBoardProjector, [load({ type: 'LoadInTransit', data: { departedAt: hours(6) } })]);
    expect(await board()).to.include({ status: 'in_transit' });
    await run(loadBoardProjector, [
      load({ type: 'LoadDelivered', data: { deliveredAt: hours(7), proofOfDelivery: { signedBy: 'J' } } }),
    ]);
    const row = await board();
    expect(row.status).to.equal('delivered');
    expect(row.delivered_at.toISOString()).to.equal(hours(7).toISOString());
    expect((await history()).map((h) => h.status)).to.deep.equal([
      'posted',
      'booked',
      'assigned',
      'picked_up',
      'in_transit',
      'delivered',
    ]);
  });

  it('marks cancelled and expired loads', async () => {
    await run(loadBoardProjector, [
      load(posted),
      load({ type: 'LoadCancelled', data: { reason: 'x', cancelledBy: 'u', cancelledAt: hours(1) } }),
    ]);
    expect(await board()).to.include({ status: 'cancelled', revision: '1' });
    rev = 0;
    await knex(t('load_board')).del();
    await knex(t('load_status_history')).del();
    await run(loadBoardProjector, [load(posted), load({ type: 'LoadExpired', data: { expiredAt: hours(30) } })]);
    expect(await board()).to.include({ status: 'expired' });
    expect((await history()).map((h) => h.status)).to.deep.equal(['posted', 'expired']);
  });

  it('puts a load whose carrier released the booking back on the board, without its carrier', async () => {
    const carrier = { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG };
    await run(loadBoardProjector, [
      load(posted),
      load({ type: 'LoadBooked', data: { ...carrier, rateCents: 100_000, via: 'book_now', bookedAt: hours(1) } }),
      load({ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-9', assignedAt: hours(2) } }),
    ]);
    await run(loadBoardProjector, [
      load({
        type: 'LoadBookingReleased',
        data: { ...carrier, reason: 'breakdown', releasedBy: 'u-c', releasedAt: hours(3) },
      }),
    ]);
    expect(await board()).to.include({
      status: 'posted',
      carrier_id: null,
      carrier_org_id: null,
      booked_rate_cents: null,
      booked_at: null,
      driver_id: null,
      truck_id: null,
      revision: '3',
    });
    expect((await history()).map((h) => [h.status, h.event_type])).to.deep.equal([
      ['posted', 'LoadPosted'],
      ['booked', 'LoadBooked'],
      ['assigned', 'DriverAssigned'],
      ['posted', 'LoadBookingReleased'],
    ]);
  });

  it('records arrivals at the sites and a flag for review, and forgets the arrivals of a replaced truck', async () => {
    const carrier = { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG };
    await run(loadBoardProjector, [
      load(posted),
      load({ type: 'LoadBooked', data: { ...carrier, rateCents: 100_000, via: 'book_now', bookedAt: hours(1) } }),
      load({ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-9', assignedAt: hours(2) } }),
      load({
        type: 'LoadArrived',
        data: { site: 'pickup', arrivedAt: hours(3), lat: 32.77, lng: -96.79, distanceMi: 0.1 },
      }),
    ]);
    expect((await board()).arrived_pickup_at.toISOString()).to.equal(hours(3).toISOString());
    await run(loadBoardProjector, [
      load({ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-10', assignedAt: hours(4) } }),
    ]);
    expect(await board()).to.include({ arrived_pickup_at: null, truck_id: 'T-10' });
    await run(loadBoardProjector, [
      load({ type: 'LoadPickedUp', data: { pickedUpAt: hours(5) } }),
      load({
        type: 'LoadFlaggedForReview',
        data: {
          reason: 'far_from_site',
          check: 'pickup',
          distanceMi: 40,
          fixRecordedAt: hours(5),
          flaggedAt: hours(5),
        },
      }),
      load({
        type: 'LoadArrived',
        data: { site: 'delivery', arrivedAt: hours(9), lat: 29.76, lng: -95.37, distanceMi: 0.3 },
      }),
    ]);
    const row = await board();
    expect(row).to.include({ status: 'picked_up', review_reason: 'far_from_site' });
    expect(row.flagged_at.toISOString()).to.equal(hours(5).toISOString());
    expect(row.arrived_delivery_at.toISOString()).to.equal(hours(9).toISOString());
    // Neither is a status change.
    expect((await history()).map((h) => h.status)).to.deep.equal([
      'posted',
      'booked',
      'assigned',
      'assigned',
      'picked_up',
    ]);
  });

  it('changes nothing when the same events are applied twice, or an older one arrives late', async () => {
    const events = [
      load(posted),
      load({
        type: 'BidPlaced',
        data: {
          bidId: bidId(1),
          carrierId: CARRIER_ID,
          carrierOrgId: CARRIER_ORG,
          amountCents: 100_000,
          placedAt: hours(1),
        },
      }),
      load({
        type: 'LoadBooked',
        data: {
          carrierId: CARRIER_ID,
          carrierOrgId: CARRIER_ORG,
          rateCents: details.rateCents,
          via: 'book_now',
          bookedAt: hours(2),
        },
      }),
    ];
    await run(loadBoardProjector, events);
    const once = { row: await board(), history: await history() };
    await run(loadBoardProjector, events);
    await run(loadBoardProjector, [events[1]!]);
    await run(loadBoardProjector, events.slice(0, 2));
    expect(await board()).to.deep.equal(once.row);
    expect(await history()).to.deep.equal(once.history);
  });

  it('builds the same rows when a rebuild bulk-loads the loads it creates as when live batches upsert them', async () => {
    const carrier = { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG };
    const otherId = randomUUID();
    let orev = 0;
    const other = (e: LoadEvent) => recorded(loadEvents, `load-${otherId}`, orev++, e);
    const events = [
      recorded(organisationEvents, `organisation-${SHIPPER_ORG}`, 0, {
        type: 'OrganisationRegistered',
        data: { orgId: SHIPPER_ORG, name: 'Gulf "Steel"\tCo\\', kind: 'shipper', registeredAt: hours(-5) },
      }),
      load(posted),
      other({
        type: 'LoadPosted',
        data: { ...posted.data, loadId: otherId, reference: 'PO\t"1"\nX', description: 'back\\slash, {braces}' },
      }),
      load({ type: 'BidPlaced', data: { bidId: bidId(1), ...carrier, amountCents: 100_000, placedAt: hours(1) } }),
      load({ type: 'LoadBooked', data: { ...carrier, rateCents: 100_000, via: 'book_now', bookedAt: hours(1) } }),
      other({ type: 'LoadCancelled', data: { reason: 'x', cancelledBy: 'u', cancelledAt: hours(1) } }),
      load({ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-9', assignedAt: hours(2) } }),
      load({
        type: 'LoadArrived',
        data: { site: 'pickup', arrivedAt: hours(3), lat: 32.77, lng: -96.79, distanceMi: 0.1 },
      }),
      load({ type: 'LoadPickedUp', data: { pickedUpAt: hours(5) } }),
      load({
        type: 'LoadFlaggedForReview',
        data: {
          reason: 'far_from_site',
          check: 'pickup',
          distanceMi: 40,
          fixRecordedAt: hours(5),
          flaggedAt: hours(5),
        },
      }),
    ];
    const rebuilt = tableNames(78);
    await knex.transaction(async (trx) => {
      for (const table of loadBoardProjector.tables) await trx.schema.dropTableIfExists(rebuilt(table));
      await loadBoardProjector.setup(trx, rebuilt);
    });
    // Batches that split a load's events, and one that starts with a load's first event.
    for (const [from, to] of [
      [0, 3],
      [3, 6],
      [6, 10],
    ] as const) {
      await run(loadBoardProjector, events.slice(from, to));
      await knex.transaction((trx) =>
        loadBoardProjector.apply(trx, events.slice(from, to), rebuilt, { rebuilding: true }),
      );
    }
    for (const table of ['load_board', 'load_status_history']) {
      const live = await knex(t(table))
        .orderBy(['load_id', ...(table === 'load_board' ? [] : ['revision'])])
        .select();
      expect(live).to.have.length.above(1);
      expect(
        await knex(rebuilt(table))
          .orderBy(['load_id', ...(table === 'load_board' ? [] : ['revision'])])
          .select(),
      ).to.deep.equal(live);
    }
    expect(await knex(rebuilt('load_board')).where('load_id', otherId).first()).to.include({
      status: 'cancelled',
      reference: 'PO\t"1"\nX',
      shipper_name: 'Gulf "Steel"\tCo\\',
    });
  });

  describe('the carrier directory', () => {
    const c = `carrier-${CARRIER_ID}`;
    let crev = 0;
    const carrier = (e: CarrierEvent) => recorded(carrierEvents, c, crev++, e);
    const row = () => knex(t('carrier_directory')).where('carrier_id', CARRIER_ID).first();
    beforeEach(() => {
      crev = 0;
    });

    it('follows registration, verification, insurance expiry, suspension, reinstatement, score and an MC number change, once', async () => {
      const registered = carrier({
        type: 'CarrierRegistered',
        data: {
          carrierId: CARRIER_ID,
          orgId: CARRIER_ORG,
          usdotNumber: '1234567',
          mcNumber: 'MC-1',
          legalName: 'Lone Star',
          equipment: ['flatbed'],
          homeBase: { city: 'Houston', state: 'TX', lat: 29.7, lng: -95.3 },
          registeredAt: hours(0),
        },
      });
      await run(carrierDirectoryProjector, [registered]);
      expect(await row()).to.include({ verified: false, status: 'active', score: 100 });
      const verified = carrier({
        type: 'CarrierVerificationRecorded',
        data: {
          allowedToOperate: true,
          outOfService: false,
          authorityStatus: 'active',
          insurance: { onFile: true, expiresAt: hours(100) },
          checkedAt: hours(1),
          source: 'admin',
          verified: true,
          reasons: [],
        },
      });
      await run(carrierDirectoryProjector, [verified]);
      expect(await row()).to.include({ verified: true, authority_status: 'active', insurance_on_file: true });
      expect((await row()).verification_gaps).to.deep.equal([]);
      await run(carrierDirectoryProjector, [
        carrier({ type: 'CarrierInsuranceExpired', data: { expiredAt: hours(101) } }),
      ]);
      expect((await row()).verification_gaps).to.deep.equal(['insurance expired']);
      await run(carrierDirectoryProjector, [
        carrier({ type: 'CarrierSuspended', data: { reason: 'r', suspendedBy: 'a', suspendedAt: hours(102) } }),
      ]);
      expect(await row()).to.include({ status: 'suspended' });
      await run(carrierDirectoryProjector, [
        carrier({ type: 'CarrierReinstated', data: { reinstatedBy: 'a', reinstatedAt: hours(103) } }),
      ]);
      expect(await row()).to.include({ status: 'active' });
      const scored = carrier({
        type: 'CarrierPerformanceUpdated',
        data: { loadId: LOAD_ID, outcome: 'late', onTime: 0, late: 1, cancelled: 0, score: 50, at: hours(104) },
      });
      await run(carrierDirectoryProjector, [scored]);
      const changed = carrier({
        type: 'CarrierMcNumberChanged',
        data: { mcNumber: 'MC-2', previous: 'MC-1', changedAt: hours(105) },
      });
      await run(carrierDirectoryProjector, [changed]);
      const final = await row();
      expect(final).to.include({ late: 1, score: 50, revision: '6', mc_number: 'MC-2', verified: false });
      expect(final.verification_gaps).to.deep.equal(['MC number changed: not verified yet']);
      await run(carrierDirectoryProjector, [registered, verified, scored, changed]);
      expect(await row()).to.deep.equal(final);
    });
  });
});
