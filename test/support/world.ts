import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Role } from '../../src/domain/shared/actor.js';
import type { ApiHarness } from './api.js';
import { until } from './async.js';
import { carrierBody, goodVerification, inDays, loadBody } from './loads.js';
import { paymentIdForLoad } from '../../src/domain/payment/stream.js';

/** A user with a bearer header. */
export interface Member {
  orgId: string;
  userId: string;
  auth: string;
}

/**
 * Everyone who may knock: two shippers and two carriers, each with every role its kind may hand out
 * (one user per role), and platform staff. `A` organisations own the world's aggregates; `B` ones are
 * the other organisations that must learn nothing about them.
 */
export const ACTORS = [
  'shipperA.shipper',
  'shipperA.dispatcher',
  'shipperB.shipper',
  'shipperB.dispatcher',
  'carrierA.carrier',
  'carrierA.driver',
  'carrierA.dispatcher',
  'carrierB.carrier',
  'carrierB.driver',
  'carrierB.dispatcher',
  'admin',
  'auditor',
] as const;
export type ActorName = (typeof ACTORS)[number];

/** The load states the world holds one load in (shipper A's, hauled by carrier A). */
export const LOAD_STATES = [
  'posted',
  'booked',
  'assigned',
  'picked_up',
  'in_transit',
  'delivered',
  'cancelled_booked',
  'cancelled',
  'expired',
] as const;
export type LoadStateName = (typeof LOAD_STATES)[number];

export interface World {
  actors: Record<ActorName, Member>;
  orgs: { shipperA: string; shipperB: string; carrierA: string; carrierB: string };
  /** Carrier A's verified carrier, carrier B's, and a suspended one of carrier A's organisation. */
  carriers: { a: string; b: string; suspended: string };
  loads: Record<LoadStateName, string>;
  /** Carrier A's open bid on the posted load. */
  bid: string;
  /** The payment of the delivered load (invoiced, open), and one written off. */
  payments: { open: string; writtenOff: string };
  /** Users of shipper A's organisation: one active, one deactivated. */
  users: { active: string; deactivated: string };
}

async function organisation(
  h: ApiHarness,
  kind: 'shipper' | 'carrier',
  roles: Role[],
): Promise<{ orgId: string; members: Record<string, Member> }> {
  const org = await h
    .http()
    .post('/orgs')
    .set('Authorization', h.admin)
    .send({ name: `${kind} ${randomUUID().slice(0, 6)}`, kind })
    .expect(201);
  const orgId = org.body.orgId as string;
  const members: Record<string, Member> = {};
  for (const role of roles) {
    const user = await h
      .http()
      .post(`/orgs/${orgId}/users`)
      .set('Authorization', h.admin)
      .send({ email: `${role}-${randomUUID().slice(0, 8)}@example.com`, name: `Pat ${role}`, roles: [role] })
      .expect(201);
    members[role] = {
      orgId,
      userId: user.body.userId,
      auth: `Bearer ${await h.token({ userId: user.body.userId, orgId, roles: [role] })}`,
    };
  }
  return { orgId, members };
}

/**
 * Builds the world through the public API (and the admin's hand where a job would act): every
 * aggregate in each state it can be in, so that a test can knock on real ids of each.
 */
export async function buildWorld(h: ApiHarness): Promise<World> {
  const shipperA = await organisation(h, 'shipper', ['shipper', 'dispatcher']);
  const shipperB = await organisation(h, 'shipper', ['shipper', 'dispatcher']);
  const carrierA = await organisation(h, 'carrier', ['carrier', 'driver', 'dispatcher']);
  const carrierB = await organisation(h, 'carrier', ['carrier', 'driver', 'dispatcher']);
  const auditor = { orgId: h.platformOrgId, userId: randomUUID(), auth: '' };
  auditor.auth = `Bearer ${await h.token({ userId: auditor.userId, orgId: h.platformOrgId, roles: ['auditor'] })}`;
  const actors: Record<ActorName, Member> = {
    'shipperA.shipper': shipperA.members.shipper!,
    'shipperA.dispatcher': shipperA.members.dispatcher!,
    'shipperB.shipper': shipperB.members.shipper!,
    'shipperB.dispatcher': shipperB.members.dispatcher!,
    'carrierA.carrier': carrierA.members.carrier!,
    'carrierA.driver': carrierA.members.driver!,
    'carrierA.dispatcher': carrierA.members.dispatcher!,
    'carrierB.carrier': carrierB.members.carrier!,
    'carrierB.driver': carrierB.members.driver!,
    'carrierB.dispatcher': carrierB.members.dispatcher!,
    admin: { orgId: h.platformOrgId, userId: 'admin', auth: h.admin },
    auditor,
  };
  await h.settle();

  const post = (who: ActorName, path: string, body?: object) => {
    const r = h.http().post(path).set('Authorization', actors[who].auth);
    return body ? r.send(body) : r;
  };
  const carrier = async (who: ActorName, orgId: string) => {
    const id = (await post(who, '/carriers', carrierBody(orgId)).expect(201)).body.carrierId as string;
    await post('admin', `/carriers/${id}/verifications`, goodVerification()).expect(202);
    return id;
  };
  const carriers = {
    a: await carrier('carrierA.carrier', carrierA.orgId),
    b: await carrier('carrierB.carrier', carrierB.orgId),
    suspended: await carrier('carrierA.carrier', carrierA.orgId),
  };
  await post('admin', `/carriers/${carriers.suspended}/suspend`, { reason: 'insurance fraud' }).expect(202);

  const load = async (
    steps: ('book' | 'assign' | 'pickup' | 'transit' | 'deliver' | 'cancel')[],
    overrides: Record<string, unknown> = {},
  ) => {
    const id = (await post('shipperA.shipper', '/loads', loadBody(shipperA.orgId, overrides)).expect(201)).body
      .loadId as string;
    for (const step of steps) {
      if (step === 'book') await post('carrierA.carrier', `/loads/${id}/book`, { carrierId: carriers.a }).expect(202);
      if (step === 'assign')
        await post('carrierA.dispatcher', `/loads/${id}/assignment`, {
          driverId: actors['carrierA.driver'].userId,
          truckId: 'TX-1042',
        }).expect(202);
      if (step === 'pickup') await post('carrierA.driver', `/loads/${id}/pickup`).expect(202);
      if (step === 'transit') await post('carrierA.driver', `/loads/${id}/in-transit`).expect(202);
      if (step === 'deliver')
        await post('carrierA.driver', `/loads/${id}/delivery`, { signedBy: 'J. Foreman' }).expect(202);
      if (step === 'cancel')
        await post('shipperA.shipper', `/loads/${id}/cancel`, { reason: 'plans changed' }).expect(202);
    }
    return id;
  };
  // A window that ends soon, but not before a slow machine has posted the load; the expiry then waits for it to pass.
  const soon = {
    pickupWindow: { from: new Date(Date.now() + 1_000).toISOString(), to: new Date(Date.now() + 5_000).toISOString() },
    deliveryWindow: { from: inDays(1), to: inDays(2) },
  };
  const expiring = await load([], soon);
  const loads: Record<LoadStateName, string> = {
    posted: await load([]),
    booked: await load(['book']),
    assigned: await load(['book', 'assign']),
    picked_up: await load(['book', 'assign', 'pickup']),
    in_transit: await load(['book', 'assign', 'pickup', 'transit']),
    delivered: await load(['book', 'assign', 'pickup', 'transit', 'deliver']),
    cancelled_booked: await load(['book', 'cancel']),
    cancelled: await load(['cancel']),
    expired: expiring,
  };
  // Expiry is the clock's: wait until the posting is due, then expire it as the job would.
  expect(
    await until(async () => (await post('admin', `/loads/${expiring}/expire`)).status === 202, 60_000, 200),
    'the posting expired',
  ).to.equal(true);
  const bid = (
    await post('carrierA.carrier', `/loads/${loads.posted}/bids`, {
      carrierId: carriers.a,
      amountCents: 170_000,
    }).expect(201)
  ).body.bidId as string;
  // A fix of the truck hauling the load in transit, for the tracking reads.
  await post('carrierA.driver', '/tracking/pings', {
    loadId: loads.in_transit,
    pings: [{ id: randomUUID(), lat: 30.1, lng: -95.6, speedMph: 55, recordedAt: new Date().toISOString() }],
  }).expect(202);
  const writeOff = await load(['book', 'assign', 'pickup', 'deliver']);
  await h.settle();
  const payments = { open: paymentIdForLoad(loads.delivered), writtenOff: paymentIdForLoad(writeOff) };
  await post('admin', `/payments/${payments.writtenOff}/write-off`, { reason: 'shipper insolvent' }).expect(202);
  const deactivated = (
    await post('admin', `/orgs/${shipperA.orgId}/users`, {
      email: `gone-${randomUUID().slice(0, 8)}@example.com`,
      name: 'Gone',
      roles: ['shipper'],
    }).expect(201)
  ).body.userId as string;
  await post('admin', `/orgs/${shipperA.orgId}/users/${deactivated}/deactivate`).expect(202);
  await h.settle();
  // The world is what it says it is.
  for (const [state, id] of Object.entries(loads)) {
    const status = (await h.http().get(`/loads/${id}`).set('Authorization', h.admin).expect(200)).body.status as string;
    expect(status, state).to.equal(state === 'cancelled_booked' ? 'cancelled' : state);
  }
  return {
    actors,
    orgs: { shipperA: shipperA.orgId, shipperB: shipperB.orgId, carrierA: carrierA.orgId, carrierB: carrierB.orgId },
    carriers,
    loads,
    bid,
    payments,
    users: { active: actors['shipperA.shipper'].userId, deactivated },
  };
}
