import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, inDays, loadBody } from '../support/loads.js';

type Summary = {
  loadId: string;
  status: string;
  equipmentType: string;
  loadSize: string;
  weightLb: number;
  lengthFt: number;
  rateCents: number;
  ratePerMileCents: number;
  tripMiles: number;
  postedAt: string;
  pickupWindow: { from: string; to: string };
  origin: { state: string; lat: number; lng: number };
  destination: { state: string };
  shipper: { orgId: string; name: string | null };
  deadheadMi: number | null;
};

const CITY = {
  houston: { address: '1 Main St', city: 'Houston', state: 'TX', zip: '77001', lat: 29.7604, lng: -95.3698 },
  dallas: { address: '2 Elm St', city: 'Dallas', state: 'TX', zip: '75201', lat: 32.7767, lng: -96.797 },
  austin: { address: '3 Congress Ave', city: 'Austin', state: 'TX', zip: '78701', lat: 30.2672, lng: -97.7431 },
  okc: { address: '4 Bricktown', city: 'Oklahoma City', state: 'OK', zip: '73102', lat: 35.4676, lng: -97.5164 },
  phoenix: { address: '5 Central Ave', city: 'Phoenix', state: 'AZ', zip: '85004', lat: 33.4484, lng: -112.074 },
  atlanta: { address: '6 Peachtree St', city: 'Atlanta', state: 'GA', zip: '30303', lat: 33.749, lng: -84.388 },
};
const window = (from: number, to: number) => ({ from: inDays(from), to: inDays(to) });

describe('The load board over HTTP', () => {
  let h: ApiHarness;
  let shipperA: { orgId: string; auth: string };
  let shipperB: { orgId: string; auth: string };
  let carrier: { orgId: string; auth: string };
  const ids: Record<string, string> = {};
  let lastPosition = '';

  const get = async (auth: string, query: Record<string, string | number> = {}) => {
    const res = await h.http().get('/loads').query(query).set('Authorization', auth).expect(200);
    return res.body as { items: Summary[]; nextCursor: string | null };
  };
  const all = async (auth: string, query: Record<string, string | number> = {}) => {
    const items: Summary[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(auth, { ...query, limit: 2, ...(cursor ? { cursor } : {}) });
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  };
  const names = (items: Summary[]) =>
    items.map((i) => Object.entries(ids).find(([, id]) => id === i.loadId)?.[0] ?? i.loadId).sort();

  before(async () => {
    // One test edits board rows behind the projector's back, which the shared page cache (tested in
    // board-page-cache.int.test.ts) cannot know of: here every read reads the rows.
    h = await apiHarness('board', { MIN_POSITION_WAIT_MS: '600', BOARD_CACHE_MS: '0' });
    shipperA = await h.member('shipper', ['shipper']);
    shipperB = await h.member('broker', ['shipper']);
    carrier = await h.member('carrier', ['carrier']);
    const post = async (name: string, auth: string, orgId: string, o: Record<string, unknown>) => {
      const res = await h.http().post('/loads').set('Authorization', auth).send(loadBody(orgId, o)).expect(201);
      ids[name] = res.body.loadId;
      lastPosition = res.body.position;
    };
    await post('L1', shipperA.auth, shipperA.orgId, {
      commodity: 'Epoxy-coated rebar',
      origin: CITY.houston,
      destination: CITY.dallas,
      equipmentType: 'flatbed',
      weightLb: 42_000,
      lengthFt: 48,
      rateCents: 180_000,
      pickupWindow: window(1, 2),
      deliveryWindow: window(2, 3),
    });
    await post('L2', shipperA.auth, shipperA.orgId, {
      origin: CITY.houston,
      destination: CITY.atlanta,
      equipmentType: 'reefer',
      loadSize: 'partial',
      weightLb: 20_000,
      lengthFt: 30,
      rateCents: 350_000,
      pickupWindow: window(2, 3),
      deliveryWindow: window(3, 5),
      commodity: 'Frozen concrete admixture',
    });
    await post('L3', shipperA.auth, shipperA.orgId, {
      commodity: 'Epoxy-coated rebar',
      origin: CITY.austin,
      destination: CITY.okc,
      equipmentType: 'dry_van',
      weightLb: 30_000,
      lengthFt: 53,
      rateCents: 150_000,
      pickupWindow: window(3, 4),
      deliveryWindow: window(4, 5),
    });
    await post('L4', shipperB.auth, shipperB.orgId, {
      commodity: 'Epoxy-coated rebar',
      origin: CITY.dallas,
      destination: CITY.phoenix,
      equipmentType: 'flatbed',
      weightLb: 45_000,
      lengthFt: 48,
      rateCents: 400_000,
      pickupWindow: window(1, 1.5),
      deliveryWindow: window(2, 4),
    });
    await post('L5', shipperA.auth, shipperA.orgId, {
      origin: CITY.houston,
      destination: CITY.austin,
      equipmentType: 'step_deck',
      weightLb: 48_000,
      lengthFt: 53,
      rateCents: 90_000,
      pickupWindow: window(4, 5),
      deliveryWindow: window(5, 6),
    });
    await post('L6', shipperB.auth, shipperB.orgId, { origin: CITY.okc, destination: CITY.dallas });
    const reg = await h
      .http()
      .post('/carriers')
      .set('Authorization', carrier.auth)
      .send(carrierBody(carrier.orgId))
      .expect(201);
    await h
      .http()
      .post(`/carriers/${reg.body.carrierId}/verifications`)
      .set('Authorization', h.admin)
      .send(goodVerification())
      .expect(202);
    await h
      .http()
      .post(`/loads/${ids.L5}/book`)
      .set('Authorization', carrier.auth)
      .send({ carrierId: reg.body.carrierId })
      .expect(202);
    const cancelled = await h
      .http()
      .post(`/loads/${ids.L6}/cancel`)
      .set('Authorization', shipperB.auth)
      .send({ reason: 'gone' })
      .expect(202);
    lastPosition = cancelled.body.position;
  });
  after(async () => {
    await h.close();
  });

  it("reads the caller's own write with ?minPosition=", async () => {
    const page = await get(carrier.auth, { minPosition: lastPosition, status: 'cancelled,booked', limit: 50 });
    expect(names(page.items)).to.deep.equal(['L5']); // L6 is cancelled by another shipper: not the carrier's to see
    const mine = await get(shipperB.auth, { minPosition: lastPosition, status: 'cancelled' });
    expect(names(mine.items)).to.deep.equal(['L6']);
  });

  it('shows carriers every posted load, and shippers their own loads only', async () => {
    expect(names(await all(carrier.auth))).to.deep.equal(['L1', 'L2', 'L3', 'L4']);
    expect(names(await all(shipperA.auth))).to.deep.equal(['L1', 'L2', 'L3']);
    expect(names(await all(shipperA.auth, { status: 'posted,booked' }))).to.deep.equal(['L1', 'L2', 'L3', 'L5']);
    expect(names(await all(h.admin, { status: 'posted,booked,cancelled' }))).to.have.length(6);
  });

  it('filters by origin radius, giving the deadhead, and sorts by it', async () => {
    const near = await all(carrier.auth, { originLat: 29.76, originLng: -95.37, originRadiusMi: 30 });
    expect(names(near)).to.deep.equal(['L1', 'L2']);
    for (const l of near) expect(l.deadheadMi).to.be.below(1);
    const wider = await all(carrier.auth, {
      originLat: 29.76,
      originLng: -95.37,
      originRadiusMi: 200,
      sort: 'deadhead',
    });
    expect(names(wider)).to.deep.equal(['L1', 'L2', 'L3']);
    expect(wider.map((l) => l.deadheadMi)).to.deep.equal([...wider.map((l) => l.deadheadMi)].sort((a, b) => a! - b!));
    expect(wider[2]!.deadheadMi).to.be.within(140, 150); // Houston to Austin
  });

  it('applies every filter as its definition says', async () => {
    // One posting two days old, so the age filter has something to leave out (the board row is
    // what the filter reads; events cannot be back-dated through the API).
    await h
      .knex('load_board')
      .where('load_id', ids.L3)
      .update({ posted_at: new Date(Date.now() - 48 * 3_600_000) });
    const everything = await all(carrier.auth);
    const cases: [Record<string, string | number>, (l: Summary) => boolean][] = [
      [{ destLat: 32.78, destLng: -96.8, destRadiusMi: 50 }, (l) => l.loadId === ids.L1],
      [{ originStates: 'TX,OK' }, (l) => ['TX', 'OK'].includes(l.origin.state)],
      [{ destStates: 'OK,AZ' }, (l) => ['OK', 'AZ'].includes(l.destination.state)],
      [{ destStates: 'GA' }, (l) => l.destination.state === 'GA'],
      [{ equipment: 'flatbed,reefer' }, (l) => ['flatbed', 'reefer'].includes(l.equipmentType)],
      [{ loadSize: 'partial' }, (l) => l.loadSize === 'partial'],
      [
        { pickupFrom: inDays(2.5), pickupTo: inDays(3.5) },
        (l) => l.pickupWindow.to >= inDays(2.5) && l.pickupWindow.from <= inDays(3.5),
      ],
      [{ maxWeightLb: 35_000 }, (l) => l.weightLb <= 35_000],
      [{ maxLengthFt: 40 }, (l) => l.lengthFt <= 40],
      [{ minRateCents: 200_000 }, (l) => l.rateCents >= 200_000],
      [{ minRatePerMileCents: 500 }, (l) => l.ratePerMileCents >= 500],
      [{ maxAgeHours: 24 }, (l) => Date.parse(l.postedAt) >= Date.now() - 24 * 3_600_000],
      [{ shipperOrgId: shipperB.orgId }, (l) => l.shipper.orgId === shipperB.orgId],
    ];
    for (const [query, keep] of cases) {
      const want = everything.filter(keep);
      expect(want.length, JSON.stringify(query)).to.be.within(1, everything.length);
      expect(names(await all(carrier.auth, query)), JSON.stringify(query)).to.deep.equal(names(want));
    }
    expect(names(await all(carrier.auth, { maxAgeHours: 24 }))).to.not.include('L3');
    // Combined: flatbeds from Texas paying at least $1,900.
    expect(
      names(await all(carrier.auth, { equipment: 'flatbed', originStates: 'TX', minRateCents: 190_000 })),
    ).to.deep.equal(['L4']);
  });

  it('sorts by each key and pages with cursors that neither skip nor repeat', async () => {
    const sorts: [string, (a: Summary, b: Summary) => number][] = [
      ['pickup', (a, b) => a.pickupWindow.from.localeCompare(b.pickupWindow.from)],
      ['rate', (a, b) => b.rateCents - a.rateCents],
      ['ratePerMile', (a, b) => b.ratePerMileCents - a.ratePerMileCents],
      ['tripMiles', (a, b) => a.tripMiles - b.tripMiles],
      ['age', (a, b) => b.postedAt.localeCompare(a.postedAt)],
    ];
    for (const [sort, cmp] of sorts) {
      const paged = await all(carrier.auth, { sort });
      expect(
        paged.map((l) => l.loadId),
        sort,
      ).to.deep.equal([...paged].sort(cmp).map((l) => l.loadId));
      expect(new Set(paged.map((l) => l.loadId)).size).to.equal(4);
      const flipped = await all(carrier.auth, {
        sort,
        order: ['rate', 'ratePerMile', 'age'].includes(sort) ? 'asc' : 'desc',
      });
      expect(flipped.map((l) => l.loadId)).to.deep.equal([...paged].reverse().map((l) => l.loadId));
    }
  });

  it('refuses bad queries with 400: cursors, ranges, enums, half a point, deadhead without a point, positions', async () => {
    const first = await get(carrier.auth, { limit: 1 });
    const bad = async (query: Record<string, string | number>, type = 'urn:freight:problem:validation') => {
      const res = await h.http().get('/loads').query(query).set('Authorization', carrier.auth).expect(400);
      expect(res.body.type, JSON.stringify(query)).to.equal(type);
    };
    await bad({ cursor: 'garbage' }, 'urn:freight:problem:bad-cursor');
    await bad(
      { cursor: Buffer.from('{"s":"pickup","o":"asc","v":5,"id":"x"}').toString('base64url') },
      'urn:freight:problem:bad-cursor',
    );
    await bad({ cursor: first.nextCursor!, sort: 'rate' }, 'urn:freight:problem:bad-cursor');
    // Forged keys the integer sort columns cannot hold (they reached Postgres as a 500).
    for (const [sort, order, v] of [
      ['rate', 'desc', 1.5],
      ['rate', 'asc', 1e308],
      ['ratePerMile', 'desc', 2_147_483_648],
      ['tripMiles', 'asc', -1e308],
    ] as const)
      await bad(
        {
          sort,
          order,
          cursor: Buffer.from(JSON.stringify({ s: sort, o: order, v, id: randomUUID() })).toString('base64url'),
        },
        'urn:freight:problem:bad-cursor',
      );
    await bad({ limit: 1000 });
    await bad({ status: 'flying' });
    await bad({ equipment: 'spaceship' });
    await bad({ originLat: 29.7 });
    await bad({ originLat: 95, originLng: 0, originRadiusMi: 5 });
    await bad({ sort: 'deadhead' });
    await bad({ pickupFrom: 'tomorrow' });
    await bad({ minPosition: 'soon' }, 'urn:freight:problem:bad-min-position');
  });

  it('gives one load with its status history, and hides it from other shippers', async () => {
    const res = await h.http().get(`/loads/${ids.L5}`).set('Authorization', shipperA.auth).expect(200);
    expect(res.body).to.include({ loadId: ids.L5, status: 'booked' });
    expect(res.body.booking.rateCents).to.equal(90_000);
    expect(res.body.history.map((x: { status: string }) => x.status)).to.deep.equal(['posted', 'booked']);
    expect(res.headers.etag).to.equal(`"${res.body.revision}"`);
    await h.http().get(`/loads/${ids.L5}`).set('Authorization', carrier.auth).expect(200);
    await h.http().get(`/loads/${ids.L1}`).set('Authorization', shipperB.auth).expect(404);
    await h.http().get(`/loads/${randomUUID()}`).set('Authorization', carrier.auth).expect(404);
  });

  it('answers 503 when the read model cannot reach the asked position in time', async () => {
    await h.runner.stop();
    try {
      const res = await h
        .http()
        .post('/loads')
        .set('Authorization', shipperA.auth)
        .send(loadBody(shipperA.orgId))
        .expect(201);
      const late = await h
        .http()
        .get('/loads')
        .query({ minPosition: res.body.position })
        .set('Authorization', shipperA.auth)
        .expect(503);
      expect(late.body.type).to.equal('urn:freight:problem:read-model-behind');
      expect(late.headers['retry-after']).to.equal('1');
    } finally {
      h.runner.start();
    }
  });

  it('searches commodities with typos, the board filters and visibility, and pages by cursor', async () => {
    const find = async (query: Record<string, string | number>, auth = carrier.auth) =>
      (
        await h
          .http()
          .get('/search/loads')
          .query({ minPosition: lastPosition, ...query })
          .set('Authorization', auth)
          .expect(200)
      ).body as {
        items: Summary[];
        engine: string;
        estimatedTotal: number;
        nextCursor: string | null;
      };
    const typo = await find({ q: 'admixtrue' });
    expect(names(typo.items)).to.deep.equal(['L2']);
    expect(typo.engine).to.equal('postgres');
    expect(names((await find({ q: 'epoxy rebar' })).items)).to.deep.equal(['L1', 'L3', 'L4']);
    expect(names((await find({ q: 'epoxy rebar', equipment: 'flatbed', originStates: 'TX' })).items)).to.deep.equal([
      'L1',
      'L4',
    ]);
    expect(names((await find({ q: 'epoxy rebar' }, shipperB.auth)).items)).to.deep.equal(['L4']);
    const first = await find({ q: 'epoxy rebar', limit: 2 });
    expect(first.items).to.have.length(2);
    const second = await find({ q: 'epoxy rebar', limit: 2, cursor: first.nextCursor! });
    expect(second.nextCursor).to.equal(null);
    expect(names([...first.items, ...second.items])).to.deep.equal(['L1', 'L3', 'L4']);
    await h.http().get('/search/loads').set('Authorization', carrier.auth).expect(400);
    await h
      .http()
      .get('/search/loads')
      .query({ q: 'epoxy rebar', cursor: 'nope' })
      .set('Authorization', carrier.auth)
      .expect(400);
  });

  it('lists carriers in the directory with their verification state', async () => {
    const res = await h
      .http()
      .get('/carriers')
      .query({ verified: 'true', minPosition: lastPosition })
      .set('Authorization', shipperA.auth)
      .expect(200);
    expect(res.body.items).to.have.length(1);
    const c = res.body.items[0];
    expect(c.verification).to.include({ verified: true, eligible: true });
    const one = await h.http().get(`/carriers/${c.carrierId}`).set('Authorization', shipperA.auth).expect(200);
    expect(one.body.legalName).to.equal('Lone Star Haulers LLC');
    expect(
      (await h.http().get('/carriers').query({ verified: 'false' }).set('Authorization', shipperA.auth).expect(200))
        .body.items,
    ).to.have.length(0);
    await h.http().get(`/carriers/${randomUUID()}`).set('Authorization', shipperA.auth).expect(404);
  });
});
