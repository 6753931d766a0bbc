import type { Knex } from 'knex';
import { applyFilters, visibleTo } from '../load-board/query.js';
import { upsertRows } from '../../projections/sql/rows.js';
import { LOAD_SEARCH, type SearchRow } from './schema.js';
import type { LoadDoc, SearchHits, SearchIndex, SearchRequest } from './types.js';

/** How close a misspelt word must be to a commodity word (pg_trgm word similarity, 0..1). */
const TYPO_THRESHOLD = 0.5;
const MAX_CANDIDATES = 1_000;

/**
 * Commodity search on Postgres: full-text (english stemming, websearch syntax) or trigram word
 * similarity on the commodity for typos, ranked by the better of the two. Columns are named as
 * on the load board, so the board's filters and visibility rules apply unchanged.
 */
export class PostgresSearchIndex implements SearchIndex {
  readonly name = 'postgres' as const;
  constructor(private readonly knex: Knex) {}

  private table(generation: number) {
    return `load_search__g${generation}`;
  }

  async setup(generation: number): Promise<void> {
    const t = this.table(generation);
    if (await this.knex.schema.hasTable(t)) return;
    await this.knex.transaction(async (trx) => {
      await LOAD_SEARCH.create(trx, () => t);
      await trx.raw('create index on ?? using gin (tsv)', [t]);
      await trx.raw('create index on ?? using gin (commodity gin_trgm_ops)', [t]);
      await trx.raw('create index on ?? using gist (ll_to_earth(origin_lat, origin_lng))', [t]);
    });
  }

  async upsert(generation: number, docs: readonly LoadDoc[]): Promise<void> {
    if (!docs.length) return;
    const t = this.table(generation);
    const rows = docs.map((d): SearchRow => ({
      load_id: d.loadId,
      revision: d.revision,
      status: d.status,
      shipper_org_id: d.shipperOrgId,
      carrier_org_id: d.carrierOrgId,
      commodity: d.commodity,
      body: [d.description, d.reference, d.originCity, d.originState, d.destCity, d.destState].join(' '),
      equipment_type: d.equipmentType,
      load_size: d.loadSize,
      origin_state: d.originState,
      dest_state: d.destState,
      origin_lat: d.originLat,
      origin_lng: d.originLng,
      dest_lat: d.destLat,
      dest_lng: d.destLng,
      length_ft: d.lengthFt,
      pickup_from: new Date(d.pickupFrom),
      pickup_to: new Date(d.pickupTo),
      posted_at: new Date(d.postedAt),
      weight_lb: d.weightLb,
      rate_cents: d.rateCents,
      rate_per_mile_cents: d.ratePerMileCents,
      trip_miles: d.tripMiles,
    }));
    await upsertRows(this.knex, t, LOAD_SEARCH.columns, rows, {
      key: ['load_id'],
      onConflict: 'update',
      guard: { column: 'revision', op: '<=' },
    });
  }

  /**
   * Full-text matches first; typo matches (trigram word similarity) only when those leave room
   * under the cap, as Meilisearch ranks matches without typos first. Asking for both at once made
   * Postgres test every row's commodity for similarity (a sequential scan: 65 ms for "rebar" at 1M
   * loads) even when full-text matches alone filled the cap.
   */
  async search(generation: number, r: SearchRequest): Promise<SearchHits> {
    const t = this.table(generation);
    // Typo tolerance: every word of the query must be close to a word of the commodity.
    const words = r.q
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length >= 3)
      .slice(0, 8);
    const similarity = words.length
      ? `(${words.map(() => 'word_similarity(?, commodity)').join(' + ')}) / ${words.length}`
      : '0';
    return this.knex.transaction(async (trx) => {
      const tsq = trx.raw(`websearch_to_tsquery('english', ?)`, [r.q]);
      // Ranking is bounded: at most MAX_CANDIDATES matches (found through the indexes) are
      // ranked, as Meilisearch caps its hits at 1,000; totals beyond say "at least".
      const candidates = (match: (q: Knex.QueryBuilder) => void, limit: number) => {
        const q = trx(t)
          .where(match)
          .select('load_id', trx.raw(`greatest(ts_rank(tsv, ?), ${similarity}) as score`, [tsq, ...words]))
          .limit(limit);
        // The review flag lives on the board only: hydration through the board applies it.
        const { flagged: _onTheBoard, ...filters } = r.filters;
        applyFilters(q, filters, r.now);
        visibleTo(q, r.actor);
        return q as Promise<{ load_id: string; score: number }[]>;
      };
      const hits = await candidates((w) => w.whereRaw('tsv @@ ?', [tsq]), MAX_CANDIDATES);
      if (hits.length < MAX_CANDIDATES && words.length) {
        await trx.raw(`select set_config('pg_trgm.word_similarity_threshold', ?, true)`, [String(TYPO_THRESHOLD)]);
        const fuzzy = words.map(() => '? <% commodity').join(' and ');
        hits.push(
          ...(await candidates(
            (w) => w.whereRaw(`(${fuzzy})`, words).andWhereRaw('not (tsv @@ ?)', [tsq]),
            MAX_CANDIDATES - hits.length,
          )),
        );
      }
      hits.sort((x, y) => y.score - x.score || (x.load_id < y.load_id ? -1 : x.load_id > y.load_id ? 1 : 0));
      return { ids: hits.slice(r.offset, r.offset + r.limit).map((h) => h.load_id), estimatedTotal: hits.length };
    });
  }

  async drop(generation: number): Promise<void> {
    await this.knex.schema.dropTableIfExists(this.table(generation));
  }
}
