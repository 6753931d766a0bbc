import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { QUEUES } from '../../src/jobs/queues.js';
import { notificationRequests } from '../../src/reactors/jobs.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';

describe('Background jobs: notifications, load expiry, the queue board', () => {
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let carrierOrg: { orgId: string; userId: string; auth: string };
  let carrierId: string;

  before(async () => {
    h = await apiHarness('jobs', { NOTIFICATION_MAX_AGE_HOURS: '1' });
    shipper = await h.member('shipper', ['shipper']);
    carrierOrg = await h.member('carrier', ['carrier']);
    carrierId = (await post(carrierOrg.auth, '/carriers', carrierBody(carrierOrg.orgId)).expect(201)).body.carrierId;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    await h.settle();
  });
  after(() => h.close());

  function post(auth: string, path: string, body?: object) {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  }
  const emailOf = async (userId: string) =>
    (await h.knex('org_users').where({ user_id: userId }).first<{ email: string }>()).email;

  describe('Notifications', () => {
    it("tells the shipper's and the carrier's offices of a booking, once each, by email", async () => {
      h.sent.length = 0;
      const body = loadBody(shipper.orgId);
      const loadId = (await post(shipper.auth, '/loads', body).expect(201)).body.loadId;
      await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
      await h.settle();
      const booked = h.sent.filter((s) => s.message.subject === `Load ${body.reference} booked`);
      expect(booked.map((s) => s.message.to).sort()).to.deep.equal(
        [await emailOf(shipper.userId), await emailOf(carrierOrg.userId)].sort(),
      );
      expect(booked[0]!.message).to.include({ channel: 'email' });
      expect(booked[0]!.message.body).to.include('$1,800.00');
    });

    it('tells the driver of an assignment by email and text, and a deactivated user nothing', async () => {
      await post(h.admin, `/orgs/${carrierOrg.orgId}/users`, {
        email: 'x@example.com',
        name: 'X',
        roles: ['driver'],
        phone: '555-0100',
      }).expect(400);
      const driver = (
        await post(h.admin, `/orgs/${carrierOrg.orgId}/users`, {
          email: `d-${randomUUID().slice(0, 6)}@example.com`,
          name: 'Dee',
          roles: ['driver'],
          phone: '+15125550100',
        }).expect(201)
      ).body.userId;
      const colleague = (
        await post(h.admin, `/orgs/${shipper.orgId}/users`, {
          email: `gone-${randomUUID().slice(0, 6)}@example.com`,
          name: 'Gone',
          roles: ['shipper'],
        }).expect(201)
      ).body.userId;
      await post(h.admin, `/orgs/${shipper.orgId}/users/${colleague}/deactivate`).expect(202);
      await h.settle();
      h.sent.length = 0;
      const body = loadBody(shipper.orgId);
      const loadId = (await post(shipper.auth, '/loads', body).expect(201)).body.loadId;
      await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
      await post(carrierOrg.auth, `/loads/${loadId}/assignment`, { driverId: driver, truckId: 'T-9' }).expect(202);
      await h.settle();
      const toDriver = h.sent.filter((s) => s.message.subject === `You are hauling load ${body.reference}`);
      expect(toDriver.map((s) => [s.message.channel, s.message.to])).to.deep.equal([
        ['email', await emailOf(driver)],
        ['sms', '+15125550100'],
      ]);
      expect(toDriver[1]!.message.body).to.include('truck T-9');
      expect(h.sent.map((s) => s.message.to)).to.not.include(await emailOf(colleague));
    });

    it('sends nothing twice when the reactor replays a batch, and nothing about old news', async () => {
      const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
      await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
      await h.settle();
      const before = h.sent.length;
      const events = await h.store.readStream(`load-${loadId}`);
      await notificationRequests(h.queues).apply(events, 1);
      await h.settle();
      expect(h.sent.length).to.equal(before);
      // A booking recorded two hours ago (a reactor rebuilt from history) is old news: dropped.
      const old = events.find((e) => e.type === 'LoadBooked')!;
      await h
        .knex('es_events')
        .where({ id: old.id })
        .update({ created_at: new Date(Date.now() - 2 * 3_600_000) });
      await h.queues.queue(QUEUES.notifications).add('LoadBooked', {
        eventId: randomUUID(),
        streamId: old.streamId,
        revision: old.revision.toString(),
        type: old.type,
      });
      await h.settle();
      expect(h.sent.length).to.equal(before);
    });
  });

  describe('Load expiry', () => {
    it('expires a posting whose pickup window has passed, and leaves booked and live ones alone', async () => {
      // Windows that end soon, but not before a slow machine has posted and booked; then the sweep
      // runs until the lapsing one is expired (a condition), however long the machine takes.
      const soon = () => ({
        from: new Date(Date.now() + 1_000).toISOString(),
        to: new Date(Date.now() + 4_000).toISOString(),
      });
      const lapsing = (
        await post(shipper.auth, '/loads', loadBody(shipper.orgId, { pickupWindow: soon() })).expect(201)
      ).body.loadId;
      const booked = (await post(shipper.auth, '/loads', loadBody(shipper.orgId, { pickupWindow: soon() })).expect(201))
        .body.loadId;
      await post(carrierOrg.auth, `/loads/${booked}/book`, { carrierId }).expect(202);
      const live = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
      const status = async (id: string) =>
        (await h.http().get(`/loads/${id}`).set('Authorization', shipper.auth).expect(200)).body.status;
      const swept = async () => {
        await h.queues.queue(QUEUES.expiry).add('expire-due', {});
        await h.settle();
        return (await status(lapsing)) === 'expired';
      };
      expect(await until(swept, 60_000, 250), 'the lapsed posting expired').to.equal(true);
      expect(await status(booked)).to.equal('booked');
      expect(await status(live)).to.equal('posted');
      const expired = (await h.store.readStream(`load-${lapsing}`)).filter((e) => e.type === 'LoadExpired');
      expect(expired).to.have.length(1);
      expect(expired[0]!.metadata).to.include({ actor: 'system:load-expiry' });
      // A second sweep finds nothing due.
      await h.queues.queue(QUEUES.expiry).add('expire-due', {});
      await h.settle();
      expect((await h.store.readStream(`load-${lapsing}`)).filter((e) => e.type === 'LoadExpired')).to.have.length(1);
    });
  });

  describe('The queue board and metrics', () => {
    it('opens the BullMQ board to admins only, by header or by a token that becomes a cookie', async () => {
      await h.http().get('/admin/queues').expect(401);
      await h.http().get('/admin/queues').set('Authorization', shipper.auth).expect(403);
      const page = await h.http().get('/admin/queues').set('Authorization', h.admin).expect(200);
      expect(page.text).to.match(/<html/i);
      const token = h.admin.slice('Bearer '.length);
      const login = await h.http().get(`/admin/queues?token=${token}`).expect(302);
      const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
      expect(login.headers['set-cookie']![0]).to.match(/httponly/i);
      const api = await h.http().get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
      expect(api.body.queues.map((q: { name: string }) => q.name)).to.include.members(Object.values(QUEUES));
    });

    it('serves queue depths and job counts at /metrics', async () => {
      const res = await h.http().get('/metrics').expect(200);
      expect(res.text).to.match(/jobs_completed_total\{queue="notifications"\} [1-9]/);
      expect(res.headers['content-type']).to.match(/text\/plain/);
    });
  });
});
