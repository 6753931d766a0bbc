import type { Actor } from '../../domain/shared/actor.js';
import type { BoardFilters } from '../load-board/query.js';
import type { BoardRow, BoardStatus } from '../load-board/row.js';

/** What the commodity index holds per load: the text to search and the fields to filter on. */
export interface LoadDoc {
  loadId: string;
  revision: number;
  status: BoardStatus;
  shipperOrgId: string;
  carrierOrgId: string | null;
  reference: string;
  commodity: string;
  description: string;
  equipmentType: string;
  loadSize: string;
  originCity: string;
  originState: string;
  originLat: number;
  originLng: number;
  destCity: string;
  destState: string;
  destLat: number;
  destLng: number;
  /** Epoch milliseconds (Meilisearch filters numbers, not dates). */
  pickupFrom: number;
  pickupTo: number;
  weightLb: number;
  lengthFt: number;
  rateCents: number;
  ratePerMileCents: number;
  tripMiles: number;
  postedAt: number;
}

export interface SearchRequest {
  q: string;
  filters: BoardFilters;
  actor: Actor;
  limit: number;
  offset: number;
  now: Date;
}

export interface SearchHits {
  /** Best first. */
  ids: string[];
  /** The engine's estimate of all matches. */
  estimatedTotal: number;
}

/**
 * The commodity index port: Meilisearch when MEILI_URL is set, else Postgres full-text +
 * trigram. `generation` namespaces the index so a rebuild fills a new one beside the live one.
 * Both adapters pass test/contract/search.contract.ts.
 */
export interface SearchIndex {
  readonly name: 'meilisearch' | 'postgres';
  setup(generation: number): Promise<void>;
  /** Replaces each load's document when its revision is not older than the stored one. */
  upsert(generation: number, docs: readonly LoadDoc[]): Promise<void>;
  search(generation: number, request: SearchRequest): Promise<SearchHits>;
  drop(generation: number): Promise<void>;
}

export function docOf(r: BoardRow): LoadDoc {
  return {
    loadId: r.load_id,
    revision: Number(r.revision),
    status: r.status,
    shipperOrgId: r.shipper_org_id,
    carrierOrgId: r.carrier_org_id,
    reference: r.reference,
    commodity: r.commodity,
    description: r.description,
    equipmentType: r.equipment_type,
    loadSize: r.load_size,
    originCity: r.origin_city,
    originState: r.origin_state,
    originLat: r.origin_lat,
    originLng: r.origin_lng,
    destCity: r.dest_city,
    destState: r.dest_state,
    destLat: r.dest_lat,
    destLng: r.dest_lng,
    pickupFrom: new Date(r.pickup_from).getTime(),
    pickupTo: new Date(r.pickup_to).getTime(),
    weightLb: r.weight_lb,
    lengthFt: r.length_ft,
    rateCents: r.rate_cents,
    ratePerMileCents: r.rate_per_mile_cents,
    tripMiles: r.trip_miles,
    postedAt: new Date(r.posted_at).getTime(),
  };
}
