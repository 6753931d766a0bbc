import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { recordPings } from '../../src/application/tracking.js';
import { pruneTracking } from '../../src/jobs/retention.js';
import { type LoadEvent, loadEvents } from '../../src/domain/load/events.js';
import { type TrackingEvent, trackingEvents } from '../../src/domain/tracking/events.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { createRedis, type Redis } from '../../src/infra/redis.js';
import { trackHistoryProjector } from '../../src/read-models/tracking/history-projector.js';
import { LatestLocations } from '../../src/read-models/tracking/latest.js';
import { trackingLatestProjector } from '../../src/read-models/tracking/latest-projector.js';
import { tableNames } from '../../src/projections/types.js';
import { freshDatabase, testServices } from '../support/services.js';
import { CARRIER_ID, CARRIER_ORG, details, DRIVER_ID, hours, SHIPPER_ORG } from '../unit/domain/load-fixtures.js';

describe('The tracking read models', () => {
  let knex: Knex;
  let redis: Redis;
  let locations: LatestLocations;
  const loadId = randomUUID();
  let seq = 0n;
  const at = (
    e: { type: string; data: unknown },
    registry: typeof loadEvents | typeof trackingEvents,
    streamId: string,
    revision: number,
  ): RecordedEvent => {
    const { data, schemaVersion } = registry.encode(e.type, e.data);
    return {
      id: randomUUID(),
      type: e.type,
      streamId,
      revision: BigInt(revision),
      position: { commit: 700n, prepare: ++seq },
      data,
      metadata: { schemaVersion },
      createdAt: hours(0),
    };
  };
  let loadRev = 0;
  const load = (e: LoadEvent) => at(e, loadEvents, `load-${loadId}`, loadRev++);
  let pingRev = 0;
  const ping = (minute: number, lat: number): RecordedEvent =>
    at(
      {
        type: 'PingRecorded',
        data: {
          pingId: randomUUID(),
          lat,
          lng: -95.4,
          speedMph: 50,
          recordedAt: hours(minute / 60),
          receivedAt: hours(1),
        },
      } satisfies TrackingEvent,
      trackingEvents,
      `tracking-${loadId}`,
      pingRev++,
    );
  const latest = () => locations.get(loadId);
  const near = async () => (await locations.near({ lat: 29.9, lng: -95.4 }, 50, 10)).map((t) => t.loadId);

  before(async () => {
    knex = createKnex(await freshDatabase('tracking_rm'), 2);
    redis = createRedis((await testServices()).redisUrl, `t:${randomUUID()}:`);
    locations = new LatestLocations(redis);
    await knex.transaction((trx) => trackHistoryProjector.setup(trx, tableNames(1)));
  });
  after(async () => {
    redis.disconnect();
    await knex.destroy();
  });

  describe('latest location in Redis', () => {
    const projector = () => trackingLatestProjector(locations);
    const posted = () =>
      load({
        type: 'LoadPosted',
        data: {
          ...details,
          loadId,
          tripMiles: 300,
          tripMilesEstimated: true,
          postedAt: hours(0),
          expiresAt: hours(30),
        },
      });
    const booked = () =>
      load({
        type: 'LoadBooked',
        data: {
          carrierId: CARRIER_ID,
          carrierOrgId: CARRIER_ORG,
          rateCents: 100_000,
          via: 'book_now',
          bookedAt: hours(1),
        },
      });
    const assigned = () =>
      load({ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-1', assignedAt: hours(2) } });

    it('records who may see the load and its truck from the load events, and the newest fix of a batch', async () => {
      const events = [posted(), booked(), assigned(), ping(10, 29.91), ping(30, 29.93), ping(20, 29.92)];
      await projector().apply(events, 1);
      expect(await latest()).to.deep.include({
        shipperOrgId: SHIPPER_ORG,
        carrierOrgId: CARRIER_ORG,
        truckId: 'T-1',
        status: 'assigned',
        active: true,
      });
      expect((await latest())!.fix).to.include({ lat: 29.93 });
      expect(await near()).to.deep.equal([loadId]);
      // The same events again, and an old fix on its own, change nothing.
      const before = await redis.hgetall(`trk:load:${loadId}`);
      await projector().apply(events, 1);
      await projector().apply([events[3]!], 1);
      expect(await redis.hgetall(`trk:load:${loadId}`)).to.deep.equal(before);
    });

    it('follows pickup and transit, and drops the load from the geo index once it is delivered', async () => {
      await projector().apply(
        [
          load({ type: 'LoadPickedUp', data: { pickedUpAt: hours(3) } }),
          load({ type: 'LoadInTransit', data: { departedAt: hours(3) } }),
        ],
        1,
      );
      expect(await latest()).to.deep.include({ status: 'in_transit', active: true });
      const delivered = load({
        type: 'LoadDelivered',
        data: { deliveredAt: hours(5), proofOfDelivery: { signedBy: 'J' } },
      });
      await projector().apply([delivered], 1);
      expect(await latest()).to.deep.include({ status: 'delivered', active: false });
      expect(await near()).to.deep.equal([]);
      // A later fix is kept, but the load stays out of the index.
      await projector().apply([ping(400, 29.95)], 1);
      expect((await latest())!.fix).to.include({ lat: 29.95 });
      expect(await near()).to.deep.equal([]);
      // An older load event replayed does not bring it back.
      await projector().apply(
        [assigned()].map((e) => ({ ...e, revision: 2n })),
        1,
      );
      expect(await latest()).to.deep.include({ status: 'delivered', active: false });
    });

    it('clears the carrier and truck of a released booking, and ends tracking for cancelled and expired loads', async () => {
      const other = randomUUID();
      const ev = (type: LoadEvent['type'], data: unknown, rev: number) =>
        at({ type, data } as LoadEvent, loadEvents, `load-${other}`, rev);
      const fix = at(
        {
          type: 'PingRecorded',
          data: {
            pingId: randomUUID(),
            lat: 29.9,
            lng: -95.4,
            speedMph: 1,
            recordedAt: hours(3),
            receivedAt: hours(3),
          },
        },
        trackingEvents,
        `tracking-${other}`,
        0,
      );
      await projector().apply(
        [
          ev(
            'LoadPosted',
            {
              ...details,
              loadId: other,
              tripMiles: 300,
              tripMilesEstimated: true,
              postedAt: hours(0),
              expiresAt: hours(30),
            },
            0,
          ),
          ev(
            'LoadBooked',
            { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG, rateCents: 1, via: 'book_now', bookedAt: hours(1) },
            1,
          ),
          ev('DriverAssigned', { driverId: DRIVER_ID, truckId: 'T-2', assignedAt: hours(2) }, 2),
          fix,
        ],
        1,
      );
      expect((await locations.near({ lat: 29.9, lng: -95.4 }, 5, 10)).map((t) => t.loadId)).to.include(other);
      await projector().apply(
        [
          ev(
            'LoadBookingReleased',
            { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG, reason: 'x', releasedBy: 'u', releasedAt: hours(3) },
            3,
          ),
        ],
        1,
      );
      const released = await locations.get(other);
      expect(released).to.deep.include({ status: 'posted', active: false });
      expect(released).to.not.have.property('carrierOrgId');
      expect(released).to.not.have.property('truckId');
      expect((await locations.near({ lat: 29.9, lng: -95.4 }, 5, 10)).map((t) => t.loadId)).to.not.include(other);
      await projector().apply([ev('LoadCancelled', { reason: 'x', cancelledBy: 'u', cancelledAt: hours(4) }, 4)], 1);
      expect(await locations.get(other)).to.deep.include({ status: 'cancelled', active: false });
      await projector().apply([ev('LoadExpired', { expiredAt: hours(5) }, 5)], 1);
      expect(await locations.get(other)).to.deep.include({ status: 'expired', active: false });
    });
  });

  describe('track history in Postgres', () => {
    const t = tableNames(1);
    const run = (events: RecordedEvent[]) => knex.transaction((trx) => trackHistoryProjector.apply(trx, events, t));

    it('stores each ping once, in time order whatever order they came in', async () => {
      const id = randomUUID();
      const ev = (minute: number, rev: number) =>
        at(
          {
            type: 'PingRecorded',
            data: {
              pingId: randomUUID(),
              lat: 30,
              lng: -95,
              speedMph: 40,
              headingDeg: 10,
              recordedAt: hours(minute / 60),
              receivedAt: hours(1),
            },
          },
          trackingEvents,
          `tracking-${id}`,
          rev,
        );
      const events = [ev(5, 0), ev(1, 1), ev(3, 2)];
      await run(events);
      await run(events);
      await run([events[1]!]);
      const rows = await knex(t('track_points'))
        .where('load_id', id)
        .orderBy('recorded_at')
        .select('recorded_at', 'heading_deg', 'accuracy_m');
      expect(rows.map((r: { recorded_at: Date }) => r.recorded_at.toISOString())).to.deep.equal(
        [hours(1 / 60), hours(3 / 60), hours(5 / 60)].map((d) => d.toISOString()),
      );
      expect(rows[0]).to.include({ heading_deg: 10, accuracy_m: null });
    });
  });

  describe('retention', () => {
    it('deletes pings older than the retention from the log and the track, and nothing newer', async () => {
      const url = await freshDatabase('retention');
      const store = new PostgresEventStore({ databaseUrl: url });
      const rk = createKnex(url, 2);
      try {
        await rk.transaction(async (trx) => {
          await trackHistoryProjector.setup(trx, tableNames(1));
          await trx.raw('create view track_points as select * from track_points__g1');
        });
        const id = randomUUID();
        const day = 86_400_000;
        const mk = (daysAgo: number) => ({
          pingId: randomUUID(),
          lat: 30,
          lng: -95,
          speedMph: 40,
          recordedAt: new Date(Date.now() - daysAgo * day),
        });
        const pings = [mk(100), mk(95), mk(10), mk(1)];
        await recordPings(store, id, pings, { receivedAt: new Date() });
        // Written long ago: the log's own time of the first two.
        await store.pool.query(
          `update es_events set created_at = now() - interval '95 days' where stream_id = $1 and revision < 2`,
          [`tracking-${id}`],
        );
        const events = await store.readStream(`tracking-${id}`);
        await rk.transaction((trx) => trackHistoryProjector.apply(trx, events, tableNames(1)));
        const r = await pruneTracking({ store, knex: rk }, 90);
        expect(r).to.deep.equal({ events: 2, points: 2 });
        expect(
          (await store.readStream(`tracking-${id}`)).map((e) => (e.data as { pingId: string }).pingId),
        ).to.deep.equal(pings.slice(2).map((p) => p.pingId));
        expect(
          (await rk('track_points').select('ping_id')).map((x: { ping_id: string }) => x.ping_id).sort(),
        ).to.deep.equal(
          pings
            .slice(2)
            .map((p) => p.pingId)
            .sort(),
        );
        expect(await pruneTracking({ store, knex: rk }, 90)).to.deep.equal({ events: 0, points: 0 });
      } finally {
        await rk.destroy();
        await store.close();
      }
    });
  });

  describe('storing pings', () => {
    it('stores each ping once even when it was stored longer ago than the look-back window', async function () {
      const store = new PostgresEventStore({ databaseUrl: await freshDatabase('pings_store') });
      try {
        const id = randomUUID();
        const mk = (minute: number) => ({
          pingId: randomUUID(),
          lat: 30,
          lng: -95,
          speedMph: 40,
          recordedAt: hours(minute / 60),
        });
        const first = Array.from({ length: 10 }, (_, i) => mk(i));
        await recordPings(store, id, first, { receivedAt: hours(1) });
        const fresh = [mk(20), mk(21)];
        // The oldest ping again, beyond a look-back of 3 events, among new ones.
        await recordPings(store, id, [first[0]!, fresh[0]!, first[9]!, fresh[1]!], {
          receivedAt: hours(1),
          dedupeWindow: 3,
        });
        const stored = (await store.readStream(`tracking-${id}`)).map((e) => (e.data as { pingId: string }).pingId);
        expect(stored).to.have.length(12);
        expect(new Set(stored).size).to.equal(12);
        expect(stored.slice(-2)).to.deep.equal(fresh.map((p) => p.pingId));
      } finally {
        await store.close();
      }
    });
  });
});
