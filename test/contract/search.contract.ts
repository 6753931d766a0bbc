import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Actor } from '../../src/domain/shared/actor.js';
import type { BoardFilters } from '../../src/read-models/load-board/query.js';
import type { LoadDoc, SearchIndex } from '../../src/read-models/search/types.js';

export interface SearchFixture {
  index: SearchIndex;
  generation: number;
  close(): Promise<void>;
}

const NOW = new Date();
const DAY = 86_400_000;
const SHIPPER = randomUUID();
const OTHER_SHIPPER = randomUUID();
const CARRIER_ORG = randomUUID();

function doc(commodity: string, o: Partial<LoadDoc> = {}): LoadDoc {
  return {
    loadId: randomUUID(),
    revision: 0,
    status: 'posted',
    shipperOrgId: SHIPPER,
    carrierOrgId: null,
    reference: `PO-${Math.floor(Math.random() * 1e6)}`,
    commodity,
    description: '',
    equipmentType: 'flatbed',
    loadSize: 'full',
    originCity: 'Houston',
    originState: 'TX',
    originLat: 29.7604,
    originLng: -95.3698,
    destCity: 'Dallas',
    destState: 'TX',
    destLat: 32.7767,
    destLng: -96.797,
    pickupFrom: NOW.getTime() + DAY,
    pickupTo: NOW.getTime() + 2 * DAY,
    weightLb: 40_000,
    lengthFt: 48,
    rateCents: 200_000,
    ratePerMileCents: 700,
    tripMiles: 290,
    postedAt: NOW.getTime() - 3_600_000,
    ...o,
  };
}

const carrier: Actor = { userId: randomUUID(), orgId: CARRIER_ORG, roles: ['carrier'] };
const shipper: Actor = { userId: randomUUID(), orgId: SHIPPER, roles: ['shipper'] };
const posted: BoardFilters = { statuses: ['posted'] };

/** One suite for every SearchIndex adapter: what users of commodity search rely on. */
export function searchIndexContract(make: () => Promise<SearchFixture>) {
  let f: SearchFixture;
  const docs = {
    rebar: doc('Rebar, grade 60', { description: '20 ft bundles for a bridge deck' }),
    beams: doc('Steel I-beams', { equipmentType: 'step_deck', rateCents: 500_000, ratePerMileCents: 1_200 }),
    gravel: doc('Crushed gravel', {
      equipmentType: 'dump',
      originCity: 'Austin',
      originState: 'TX',
      originLat: 30.2672,
      originLng: -97.7431,
      weightLb: 48_000,
    }),
    cement: doc('Portland cement', {
      equipmentType: 'tanker',
      shipperOrgId: OTHER_SHIPPER,
      destCity: 'Phoenix',
      destState: 'AZ',
      destLat: 33.4484,
      destLng: -112.074,
    }),
    oldRebar: doc('Rebar offcuts', { status: 'booked', carrierOrgId: randomUUID() }),
  };
  const search = (q: string, filters: BoardFilters = posted, actor: Actor = carrier, limit = 20, offset = 0) =>
    f.index.search(f.generation, { q, filters, actor, limit, offset, now: NOW });

  before(async function () {
    this.timeout(60_000);
    f = await make();
    await f.index.setup(f.generation);
    await f.index.upsert(f.generation, Object.values(docs));
  });
  after(async () => {
    await f.index.drop(f.generation);
    await f.close();
  });

  it('finds loads by a commodity word, best match first', async () => {
    const hits = await search('rebar');
    expect(hits.ids).to.deep.equal([docs.rebar.loadId]);
    expect(hits.estimatedTotal).to.equal(1);
  });

  it('tolerates a typo in the commodity', async () => {
    expect((await search('rebr')).ids).to.include(docs.rebar.loadId);
    expect((await search('gravle')).ids).to.include(docs.gravel.loadId);
  });

  it('searches the description and cities too', async () => {
    expect((await search('bridge')).ids).to.deep.equal([docs.rebar.loadId]);
    expect((await search('phoenix')).ids).to.deep.equal([docs.cement.loadId]);
  });

  it('applies the board filters: status, equipment, states, radius, weight, rates, shipper', async () => {
    expect((await search('steel', { ...posted, equipment: ['flatbed'] })).ids).to.deep.equal([]);
    expect((await search('steel', { ...posted, equipment: ['step_deck'] })).ids).to.deep.equal([docs.beams.loadId]);
    expect(
      (await search('gravel', { ...posted, origin: { lat: 29.76, lng: -95.37, radiusMi: 50 } })).ids,
    ).to.deep.equal([]);
    expect(
      (await search('gravel', { ...posted, origin: { lat: 30.27, lng: -97.74, radiusMi: 50 } })).ids,
    ).to.deep.equal([docs.gravel.loadId]);
    expect((await search('cement', { ...posted, destStates: ['AZ'] })).ids).to.deep.equal([docs.cement.loadId]);
    expect(
      (await search('cement', { ...posted, destination: { lat: 32.78, lng: -96.8, radiusMi: 100 } })).ids,
    ).to.deep.equal([]);
    expect((await search('gravel', { ...posted, maxWeightLb: 45_000 })).ids).to.deep.equal([]);
    expect((await search('steel', { ...posted, minRatePerMileCents: 1_000, minRateCents: 400_000 })).ids).to.deep.equal(
      [docs.beams.loadId],
    );
    expect((await search('cement', { ...posted, shipperOrgId: SHIPPER })).ids).to.deep.equal([]);
    expect(
      (await search('rebar', { statuses: ['posted', 'booked'] }, { ...carrier, roles: ['admin'] })).ids,
    ).to.have.members([docs.rebar.loadId, docs.oldRebar.loadId]);
  });

  it('shows each caller only what the board shows them', async () => {
    expect((await search('cement', posted, shipper)).ids).to.deep.equal([]);
    expect((await search('rebar', posted, shipper)).ids).to.deep.equal([docs.rebar.loadId]);
    expect((await search('rebar', { statuses: ['booked'] }, carrier)).ids).to.deep.equal([]);
  });

  it('replaces a document with its newer state, and pages with limit and offset', async () => {
    await f.index.upsert(f.generation, [{ ...docs.beams, revision: 3, status: 'booked', carrierOrgId: CARRIER_ORG }]);
    expect((await search('steel')).ids).to.deep.equal([]);
    expect((await search('steel', { statuses: ['booked'] })).ids).to.deep.equal([docs.beams.loadId]);
    const many = Array.from({ length: 7 }, (_, i) => doc(`Precast panel ${i}`));
    await f.index.upsert(f.generation, many);
    const first = await search('precast', posted, carrier, 4, 0);
    const second = await search('precast', posted, carrier, 4, 4);
    expect(first.ids).to.have.length(4);
    expect(second.ids).to.have.length(3);
    expect(new Set([...first.ids, ...second.ids])).to.deep.equal(new Set(many.map((d) => d.loadId)));
    expect(first.estimatedTotal).to.equal(7);
  });
}
