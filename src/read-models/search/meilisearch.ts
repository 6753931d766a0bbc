import { Meilisearch } from 'meilisearch';
import { seesBoard } from '../../domain/load/access.js';
import { isStaff } from '../../domain/shared/actor.js';
import type { LoadDoc, SearchHits, SearchIndex, SearchRequest } from './types.js';

const METERS_PER_MILE = 1609.344;
const DEG_LAT_MI = 69.05;

const SETTINGS = {
  searchableAttributes: ['commodity', 'description', 'reference', 'originCity', 'destCity'],
  filterableAttributes: [
    'status',
    'shipperOrgId',
    'carrierOrgId',
    'equipmentType',
    'loadSize',
    'originState',
    'destState',
    'destLat',
    'destLng',
    'pickupFrom',
    'pickupTo',
    'weightLb',
    'lengthFt',
    'rateCents',
    'ratePerMileCents',
    'postedAt',
    '_geo',
  ],
  sortableAttributes: ['pickupFrom', 'rateCents', 'ratePerMileCents', 'tripMiles', 'postedAt'],
  typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 4, twoTypos: 8 } },
};

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const anyOf = (field: string, values: readonly string[]) => `${field} IN [${values.map(quote).join(', ')}]`;

/**
 * Commodity search on Meilisearch (typo tolerance built in). Settings are applied by code in
 * setup(). The origin is the document's `_geo`; the destination radius is a bounding box here and
 * trimmed to the circle by the load board query that hydrates the hits.
 */
export class MeiliSearchIndex implements SearchIndex {
  readonly name = 'meilisearch' as const;
  private readonly client: Meilisearch;

  constructor(
    host: string,
    apiKey?: string,
    private readonly prefix = 'loads',
  ) {
    this.client = new Meilisearch({ host, ...(apiKey ? { apiKey } : {}) });
  }

  private uid(generation: number) {
    return `${this.prefix}_g${generation}`;
  }

  async setup(generation: number): Promise<void> {
    const uid = this.uid(generation);
    const existing = await this.client.getIndex(uid).catch(() => undefined);
    if (!existing) await this.client.createIndex(uid, { primaryKey: 'loadId' }).waitTask();
    await this.client.index(uid).updateSettings(SETTINGS).waitTask();
  }

  async upsert(generation: number, docs: readonly LoadDoc[]): Promise<void> {
    if (!docs.length) return;
    // Meilisearch has no conditional write; the projector sends each load's newest state only.
    const task = await this.client
      .index(this.uid(generation))
      .addDocuments(docs.map((d) => ({ ...d, _geo: { lat: d.originLat, lng: d.originLng } })))
      .waitTask();
    if (task.status !== 'succeeded') throw new Error(`Meilisearch indexing failed: ${JSON.stringify(task.error)}`);
  }

  async search(generation: number, r: SearchRequest): Promise<SearchHits> {
    const f = r.filters;
    const filter: string[] = [anyOf('status', f.statuses)];
    if (f.origin)
      filter.push(`_geoRadius(${f.origin.lat}, ${f.origin.lng}, ${Math.round(f.origin.radiusMi * METERS_PER_MILE)})`);
    if (f.destination) {
      const dLat = f.destination.radiusMi / DEG_LAT_MI;
      const dLng = dLat / Math.max(0.01, Math.cos((f.destination.lat * Math.PI) / 180));
      filter.push(
        `destLat ${f.destination.lat - dLat} TO ${f.destination.lat + dLat}`,
        `destLng ${f.destination.lng - dLng} TO ${f.destination.lng + dLng}`,
      );
    }
    if (f.originStates?.length) filter.push(anyOf('originState', f.originStates));
    if (f.destStates?.length) filter.push(anyOf('destState', f.destStates));
    if (f.equipment?.length) filter.push(anyOf('equipmentType', f.equipment));
    if (f.loadSize) filter.push(`loadSize = ${quote(f.loadSize)}`);
    if (f.pickupFrom) filter.push(`pickupTo >= ${f.pickupFrom.getTime()}`);
    if (f.pickupTo) filter.push(`pickupFrom <= ${f.pickupTo.getTime()}`);
    if (f.maxWeightLb !== undefined) filter.push(`weightLb <= ${f.maxWeightLb}`);
    if (f.maxLengthFt !== undefined) filter.push(`lengthFt <= ${f.maxLengthFt}`);
    if (f.minRateCents !== undefined) filter.push(`rateCents >= ${f.minRateCents}`);
    if (f.minRatePerMileCents !== undefined) filter.push(`ratePerMileCents >= ${f.minRatePerMileCents}`);
    if (f.maxAgeHours !== undefined) filter.push(`postedAt >= ${r.now.getTime() - f.maxAgeHours * 3_600_000}`);
    if (f.shipperOrgId) filter.push(`shipperOrgId = ${quote(f.shipperOrgId)}`);
    if (!isStaff(r.actor)) {
      // The board's visibility rule (domain/load/access.ts); hydration through the board applies it again.
      const org = quote(r.actor.orgId);
      const board = seesBoard(r.actor);
      filter.push(`(shipperOrgId = ${org} OR carrierOrgId = ${org}${board ? ' OR status = "posted"' : ''})`);
    }
    const res = await this.client
      .index(this.uid(generation))
      .search<LoadDoc>(r.q, { filter, limit: r.limit, offset: r.offset, attributesToRetrieve: ['loadId'] });
    return { ids: res.hits.map((h) => h.loadId), estimatedTotal: res.estimatedTotalHits ?? res.hits.length };
  }

  async drop(generation: number): Promise<void> {
    await this.client.deleteIndexIfExists(this.uid(generation));
  }
}
