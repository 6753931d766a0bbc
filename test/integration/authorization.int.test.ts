import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, inDays, loadBody } from '../support/loads.js';
import { ACTORS, type ActorName, buildWorld, LOAD_STATES, type World } from '../support/world.js';

/** One target of a command route: a real aggregate in some state, as the request names it. */
interface Target {
  name: string;
  path: string;
  body?: (actor: ActorName) => object;
  /** Who may act on it (and so is not asked here: they would change it). */
  allowed: readonly ActorName[];
}

const A_BOOKED = ['booked', 'assigned', 'picked_up', 'in_transit', 'delivered', 'cancelled_booked'] as const;
const SHIPPER_A: ActorName[] = ['shipperA.shipper', 'shipperA.dispatcher', 'admin'];
const CARRIER_A: ActorName[] = ['carrierA.carrier', 'carrierA.dispatcher', 'admin'];
const HAULER_A: ActorName[] = ['carrierA.carrier', 'carrierA.driver', 'carrierA.dispatcher', 'admin'];
const ADMIN: ActorName[] = ['admin'];

const orgOf = (w: World, actor: ActorName) => w.actors[actor].orgId;
const ping = () => ({ id: randomUUID(), lat: 30.2, lng: -95.5, speedMph: 50, recordedAt: new Date().toISOString() });

/** Every command route, with a target per state of its aggregate and who may act on each. */
function targetsByRoute(w: World): Record<string, Target[]> {
  const loads = (
    suffix: string,
    allowedIn: (state: string) => readonly ActorName[],
    body?: (actor: ActorName) => object,
  ) =>
    LOAD_STATES.map((state) => ({
      name: state,
      path: `/loads/${w.loads[state]}${suffix}`,
      allowed: allowedIn(state),
      ...(body ? { body } : {}),
    }));
  const hauledByA = (who: readonly ActorName[]) => (state: string) =>
    (A_BOOKED as readonly string[]).includes(state) ? who : ADMIN;
  const carriersOfA = (suffix: string, allowed: readonly ActorName[], body?: (actor: ActorName) => object) =>
    (['a', 'suspended'] as const).map((c) => ({
      name: `carrier ${c}`,
      path: `/carriers/${w.carriers[c]}${suffix}`,
      allowed,
      ...(body ? { body } : {}),
    }));
  const orgs = (
    suffix: (org: 'shipperA' | 'carrierA') => string,
    allowed: (org: 'shipperA' | 'carrierA') => readonly ActorName[],
    body?: (actor: ActorName) => object,
  ) =>
    (['shipperA', 'carrierA'] as const).map((o) => ({
      name: o,
      path: `/orgs/${w.orgs[o]}${suffix(o)}`,
      allowed: allowed(o),
      ...(body ? { body } : {}),
    }));
  const payments = (suffix: string, allowed: readonly ActorName[], body?: (actor: ActorName) => object) =>
    (['open', 'writtenOff'] as const).map((p) => ({
      name: `payment ${p}`,
      path: `/payments/${w.payments[p]}${suffix}`,
      allowed,
      ...(body ? { body } : {}),
    }));
  const userOf = (o: 'shipperA' | 'carrierA') =>
    o === 'shipperA' ? w.users.active : w.actors['carrierA.carrier'].userId;

  return {
    // Posting with the id of an existing load of shipper A, for the actor's own organisation.
    postLoad: LOAD_STATES.map((state) => ({
      name: state,
      path: '/loads',
      allowed: SHIPPER_A,
      body: (actor) => loadBody(orgOf(w, actor), { loadId: w.loads[state] }),
    })),
    reviseLoad: loads(
      '/revise',
      () => SHIPPER_A,
      () => ({ rateCents: 123_456 }),
    ),
    cancelLoad: loads(
      '/cancel',
      () => SHIPPER_A,
      () => ({ reason: 'not yours' }),
    ),
    acceptBid: loads(`/bids/${w.bid}/accept`, () => SHIPPER_A),
    placeBid: loads(
      '/bids',
      () => CARRIER_A,
      () => ({ carrierId: w.carriers.a, amountCents: 99_000 }),
    ),
    withdrawBid: loads(`/bids/${w.bid}/withdraw`, () => CARRIER_A),
    bookNow: loads(
      '/book',
      () => CARRIER_A,
      () => ({ carrierId: w.carriers.a }),
    ),
    assignDriver: loads('/assignment', hauledByA(CARRIER_A), (actor) => ({
      driverId: w.actors[actor].userId,
      truckId: 'STOLEN-1',
    })),
    confirmPickup: loads('/pickup', hauledByA(HAULER_A)),
    markInTransit: loads('/in-transit', hauledByA(HAULER_A)),
    deliverLoad: loads('/delivery', hauledByA(HAULER_A), () => ({ signedBy: 'Nobody' })),
    releaseBooking: loads('/booking/release', hauledByA(CARRIER_A), () => ({ reason: 'not mine' })),
    expireLoad: loads('/expire', () => ADMIN),
    recordPings: LOAD_STATES.map((state) => ({
      name: state,
      path: '/tracking/pings',
      allowed: (A_BOOKED as readonly string[]).includes(state) ? ['carrierA.driver'] : [],
      body: () => ({ loadId: w.loads[state], pings: [ping()] }),
    })),
    // Registering again under the id of carrier A's carrier, for the actor's own organisation.
    registerCarrier: (['a', 'suspended'] as const).map((c) => ({
      name: `carrier ${c}`,
      path: '/carriers',
      allowed: CARRIER_A,
      body: (actor: ActorName) => carrierBody(orgOf(w, actor), { carrierId: w.carriers[c] }),
    })),
    recordVerification: carriersOfA('/verifications', ADMIN, () => goodVerification()),
    changeMcNumber: carriersOfA('/mc-number', CARRIER_A, () => ({ mcNumber: 'MC-999999' })),
    linkPayoutAccount: carriersOfA('/payout-account', CARRIER_A, () => ({ stripeAccountId: 'acct_1Nv0FGQ9RKHgCVdK' })),
    expireInsurance: carriersOfA('/insurance-expiry', ADMIN),
    suspendCarrier: carriersOfA('/suspend', ADMIN, () => ({ reason: 'no reason' })),
    reinstateCarrier: carriersOfA('/reinstate', ADMIN),
    requestVerification: carriersOfA('/verification-requests', ADMIN),
    registerOrganisation: (['shipperA', 'carrierA'] as const).map((o) => ({
      name: o,
      path: '/orgs',
      allowed: ADMIN,
      body: () => ({ orgId: w.orgs[o], name: 'Takeover Inc', kind: 'shipper' }),
    })),
    addUser: orgs(
      () => '/users',
      (o) => [`${o}.dispatcher` as ActorName, 'admin'],
      () => ({ email: `mole-${randomUUID().slice(0, 6)}@example.com`, name: 'Mole', roles: ['dispatcher'] }),
    ),
    changeUserRoles: orgs(
      (o) => `/users/${userOf(o)}/roles`,
      (o) => [`${o}.dispatcher` as ActorName, 'admin'],
      () => ({ roles: ['dispatcher'] }),
    ),
    deactivateUser: orgs(
      (o) => `/users/${userOf(o)}/deactivate`,
      (o) => [`${o}.dispatcher` as ActorName, 'admin'],
    ),
    setBillingAccount: orgs(
      () => '/billing-account',
      (o) => (o === 'shipperA' ? SHIPPER_A : ['carrierA.dispatcher', 'admin']),
      () => ({ stripeCustomerId: 'cus_Mole', paymentMethodId: 'pm_Mole' }),
    ),
    suspendOrganisation: orgs(
      () => '/suspend',
      () => ADMIN,
      () => ({ reason: 'no reason' }),
    ),
    reinstateOrganisation: orgs(
      () => '/reinstate',
      () => ADMIN,
    ),
    requestQuickPay: payments('/quickpay', CARRIER_A),
    issueRefund: payments('/refunds', ADMIN, () => ({ amountCents: 100, reason: 'goodwill' })),
    writeOffPayment: payments('/write-off', ADMIN, () => ({ reason: 'gone' })),
    closePayment: payments('/close', ADMIN),
    retryJob: [{ name: 'a failed job', path: `/admin/jobs/notifications/${randomUUID()}/retry`, allowed: ADMIN }],
    retryFailedJobs: [{ name: 'the dead letter', path: '/admin/jobs/notifications/failed/retry', allowed: ADMIN }],
    retryParkedEvent: [
      { name: 'a parked event', path: `/admin/projections/load_board/parked/${randomUUID()}/retry`, allowed: ADMIN },
    ],
    skipParkedEvent: [
      { name: 'a parked event', path: `/admin/projections/load_board/parked/${randomUUID()}/skip`, allowed: ADMIN },
    ],
  };
}

describe('Who may act: every command route refuses every other organisation and role, in every state', function () {
  let h: ApiHarness;
  let w: World;
  let targets: Record<string, Target[]>;

  before(async function () {
    this.timeout(120_000);
    h = await apiHarness('authorization', {}, {});
    w = await buildWorld(h);
    targets = targetsByRoute(w);
  });
  after(() => h?.close());

  // What is committed, not what readers see yet: a late-readable earlier commit must not look like an append.
  const head = () => h.committed();

  it('has a target for every route that changes anything', () => {
    const changing = h.routes.filter((r) => r.method === 'post').map((r) => r.operationId);
    expect(Object.keys(targets).sort()).to.deep.equal([...changing].sort());
  });

  it('answers every actor that may not act 403 or 404, never a 2xx, a 409 or a revision, and appends nothing', async function () {
    this.timeout(300_000);
    const before = await head();
    let asked = 0;
    const wrong: string[] = [];
    for (const [operationId, list] of Object.entries(targets)) {
      for (const target of list) {
        for (const actor of ACTORS) {
          if (target.allowed.includes(actor)) continue;
          const req = h
            .http()
            .post(target.path)
            .set('Authorization', w.actors[actor].auth)
            .set('Idempotency-Key', randomUUID());
          const res = target.body ? await req.send(target.body(actor)) : await req;
          asked++;
          const body = res.body as { type?: string; revision?: unknown; streamId?: unknown };
          const ok =
            (res.status === 403 && body.type === 'urn:freight:problem:forbidden') ||
            (res.status === 404 && body.type === 'urn:freight:problem:not-found');
          if (!ok || body.revision !== undefined || body.streamId !== undefined) {
            wrong.push(
              `${operationId} on ${target.name} as ${actor}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
            );
          }
        }
      }
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    expect(asked).to.be.greaterThan(1_000);
    expect(await head()).to.equal(before);
  });

  it('gives an outsider the same 404 for a load it cannot see, whatever the load is doing, as for no load at all', async () => {
    const outsider = w.actors['shipperB.shipper'].auth;
    const answers = [];
    for (const id of [...Object.values(w.loads).filter((id) => id !== w.loads.posted), randomUUID()]) {
      const read = await h.http().get(`/loads/${id}`).set('Authorization', outsider).expect(404);
      const cancel = await h
        .http()
        .post(`/loads/${id}/cancel`)
        .set('Authorization', outsider)
        .send({ reason: 'x' })
        .expect(404);
      const strip = (b: Record<string, unknown>) => ({
        ...b,
        instance: undefined,
        requestId: undefined,
        detail: String(b.detail).replace(id, '<id>'),
      });
      expect(strip(cancel.body)).to.deep.equal(strip(read.body));
      answers.push(strip(cancel.body));
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).to.equal(1);
  });

  it('lets the parties act: what is refused above is refused for who asks, not for what is asked', async () => {
    // The owner of each kind of aggregate gets past the check (a change, or the state's own answer).
    const asA = (actor: ActorName, path: string, body?: object) => {
      const r = h.http().post(path).set('Authorization', w.actors[actor].auth);
      return body ? r.send(body) : r;
    };
    const notRefused = (status: number) => expect(status).to.not.be.oneOf([403, 404]);
    notRefused((await asA('shipperA.shipper', `/loads/${w.loads.posted}/revise`, { rateCents: 190_000 })).status);
    notRefused((await asA('carrierA.driver', `/loads/${w.loads.in_transit}/in-transit`)).status);
    notRefused((await asA('carrierA.carrier', `/loads/${w.loads.cancelled_booked}/pickup`)).status);
    notRefused(
      (await asA('carrierA.carrier', `/carriers/${w.carriers.a}/mc-number`, { mcNumber: 'MC-123456' })).status,
    );
    notRefused(
      (
        await asA('shipperA.dispatcher', `/orgs/${w.orgs.shipperA}/billing-account`, {
          stripeCustomerId: 'cus_A',
          paymentMethodId: 'pm_A',
        })
      ).status,
    );
    notRefused(
      (await asA('carrierA.driver', '/tracking/pings', { loadId: w.loads.in_transit, pings: [ping()] })).status,
    );
    // Carrier B may bid on the open board: a posted load is everyone's to bid on.
    const own = (
      await asA('carrierB.carrier', `/loads/${w.loads.posted}/bids`, { carrierId: w.carriers.b, amountCents: 160_000 })
    ).status;
    expect(own).to.equal(201);
    const postOwn = await asA(
      'shipperB.shipper',
      '/loads',
      loadBody(w.orgs.shipperB, { pickupWindow: { from: inDays(1), to: inDays(2) } }),
    );
    expect(postOwn.status).to.equal(201);
  });
});
