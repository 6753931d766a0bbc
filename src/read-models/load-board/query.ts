import type { Knex } from 'knex';
import { seesBoard } from '../../domain/load/access.js';
import { type Actor, isStaff } from '../../domain/shared/actor.js';
import { cellSql, type CircleCells, cellsCovering, type Point } from './cells.js';
import type { BoardRow, BoardStatus } from './row.js';

const METERS_PER_MILE = 1609.344;

export interface BoardFilters {
  statuses: readonly BoardStatus[];
  origin?: Point & { radiusMi: number };
  destination?: Point & { radiusMi: number };
  originStates?: readonly string[];
  destStates?: readonly string[];
  equipment?: readonly string[];
  loadSize?: 'full' | 'partial';
  pickupFrom?: Date;
  pickupTo?: Date;
  maxWeightLb?: number;
  maxLengthFt?: number;
  minRateCents?: number;
  minRatePerMileCents?: number;
  maxAgeHours?: number;
  shipperOrgId?: string;
  /** Only loads flagged for review (true) or only unflagged ones (false). */
  flagged?: boolean;
  /** Only these loads (search hits). */
  loadIds?: readonly string[];
}

export const SORTS = {
  pickup: { column: 'pickup_from', dir: 'asc' },
  rate: { column: 'rate_cents', dir: 'desc' },
  ratePerMile: { column: 'rate_per_mile_cents', dir: 'desc' },
  tripMiles: { column: 'trip_miles', dir: 'asc' },
  age: { column: 'posted_at', dir: 'desc' },
  deadhead: { column: null, dir: 'asc' },
} as const;
export type SortName = keyof typeof SORTS;

export interface Keyset {
  value: string | number;
  loadId: string;
}

/**
 * Who sees what (domain/load/access.ts, which commands apply too): a shipper its own loads; the
 * board roles the open board and what their organisation booked; staff all. `statuses`: the only
 * statuses the query asks for. When those are posted ones and the actor sees the open board, every
 * row is visible and no clause is added: an `OR` of organisations and status made the open board's
 * plan depend on statistics (issue 22: a bitmap scan and a sort of every posted load when the
 * planner misjudged it).
 */
/**
 * Whether the actor sees every load of these statuses (staff; or a board role asking for posted
 * loads only): then its answer is anyone's of the same kind, and `visibleTo` adds no clause.
 */
export function unrestricted(actor: Actor, statuses?: readonly BoardStatus[]): boolean {
  return isStaff(actor) || (seesBoard(actor) && !!statuses?.length && statuses.every((s) => s === 'posted'));
}

export function visibleTo(q: Knex.QueryBuilder, actor: Actor, statuses?: readonly BoardStatus[]): Knex.QueryBuilder {
  if (unrestricted(actor, statuses)) return q;
  const board = seesBoard(actor);
  return q.where((w) => {
    w.where('shipper_org_id', actor.orgId).orWhere('carrier_org_id', actor.orgId);
    if (board) w.orWhere('status', 'posted');
  });
}

const earth = (p: Point) => ['ll_to_earth(?, ?)', [p.lat, p.lng]] as const;

/** Great-circle miles from the origin point to each load's pickup: the deadhead. */
export function deadheadSql(knex: Knex, p: Point): Knex.Raw {
  return knex.raw(`earth_distance(ll_to_earth(?, ?), ll_to_earth(origin_lat, origin_lng)) / ${METERS_PER_MILE}`, [
    p.lat,
    p.lng,
  ]);
}

/**
 * `byCell`: the query reads this site's grid cells one by one, so its radius gets the distance
 * test only; the box test would invite the GiST index into every cell's scan.
 */
export function applyFilters(
  q: Knex.QueryBuilder,
  f: BoardFilters,
  now: Date,
  byCell?: 'origin' | 'dest',
): Knex.QueryBuilder {
  q.whereIn('status', f.statuses as string[]);
  for (const [point, prefix] of [
    [f.origin, 'origin'],
    [f.destination, 'dest'],
  ] as const) {
    if (!point) continue;
    const meters = point.radiusMi * METERS_PER_MILE;
    const [sql, args] = earth(point);
    // The box test uses the GiST index; the distance test trims the box's corners.
    if (byCell !== prefix)
      q.whereRaw(`earth_box(${sql}, ?) @> ll_to_earth(${prefix}_lat, ${prefix}_lng)`, [...args, meters]);
    q.whereRaw(`earth_distance(${sql}, ll_to_earth(${prefix}_lat, ${prefix}_lng)) <= ?`, [...args, meters]);
  }
  if (f.originStates?.length) q.whereIn('origin_state', f.originStates as string[]);
  if (f.destStates?.length) q.whereIn('dest_state', f.destStates as string[]);
  if (f.equipment?.length) q.whereIn('equipment_type', f.equipment as string[]);
  if (f.loadSize) q.where('load_size', f.loadSize);
  // Pickup windows that overlap the asked window.
  if (f.pickupFrom) q.where('pickup_to', '>=', f.pickupFrom);
  if (f.pickupTo) q.where('pickup_from', '<=', f.pickupTo);
  if (f.maxWeightLb !== undefined) q.where('weight_lb', '<=', f.maxWeightLb);
  if (f.maxLengthFt !== undefined) q.where('length_ft', '<=', f.maxLengthFt);
  if (f.minRateCents !== undefined) q.where('rate_cents', '>=', f.minRateCents);
  if (f.minRatePerMileCents !== undefined) q.where('rate_per_mile_cents', '>=', f.minRatePerMileCents);
  if (f.maxAgeHours !== undefined) q.where('posted_at', '>=', new Date(now.getTime() - f.maxAgeHours * 3_600_000));
  if (f.shipperOrgId) q.where('shipper_org_id', f.shipperOrgId);
  if (f.flagged !== undefined)
    q.where((w) => (f.flagged ? w.whereNotNull('review_reason') : w.whereNull('review_reason')));
  if (f.loadIds) q.whereIn('load_id', f.loadIds as string[]);
  return q;
}

export interface BoardPage {
  rows: (BoardRow & { deadhead_mi: number | null })[];
  next?: Keyset;
}

export interface BoardQueryOptions {
  filters: BoardFilters;
  actor: Actor;
  sort: SortName;
  order?: 'asc' | 'desc';
  after?: Keyset;
  limit: number;
  now: Date;
}

/** Rows past the page a nearest-first query reads, so ties at the page's edge are usually all in hand. */
const DEADHEAD_SLACK = 32;

/** The sort key's SQL: a column, or for deadhead the chord to the origin point. */
function sortKey(knex: Knex, opts: BoardQueryOptions): string {
  const point = opts.filters.origin;
  if (opts.sort !== 'deadhead') return knex.ref(SORTS[opts.sort].column!).toQuery();
  if (!point) throw new RangeError('sorting by deadhead needs an origin point');
  // The chord between the points (cube <->) orders exactly as the great circle does, and is the
  // GiST index's own distance: ordered by it alone, the index returns the nearest loads first.
  return knex.raw('(ll_to_earth(origin_lat, origin_lng) <-> ll_to_earth(?, ?))', [point.lat, point.lng]).toQuery();
}

/** Filters, visibility and the keyset bound of one page, without order or limit. */
function pageFilter(
  knex: Knex,
  opts: BoardQueryOptions,
  keySql: string,
  byCell?: 'origin' | 'dest',
): Knex.QueryBuilder {
  const { filters, sort } = opts;
  const dir = opts.order ?? SORTS[sort].dir;
  const point = filters.origin;
  const q = knex('load_board').select(
    'load_board.*',
    point ? deadheadSql(knex, point).wrap('(', ') as deadhead_mi') : knex.raw('null::float8 as deadhead_mi'),
  );
  applyFilters(q, filters, opts.now, byCell);
  visibleTo(q, opts.actor, filters.statuses);
  if (opts.after) {
    const value = sort === 'pickup' || sort === 'age' ? new Date(opts.after.value) : opts.after.value;
    q.whereRaw(`(${keySql}, load_id) ${dir === 'asc' ? '>' : '<'} (?, ?)`, [value, opts.after.loadId]);
  }
  if (sort === 'deadhead') q.select(knex.raw(`${keySql} as deadhead_key`));
  return q;
}

/**
 * The SQL of one page (exported for EXPLAIN in the benchmark). Pages are ordered by (key,
 * load_id), except nearest-first ones: a second sort key would stop the GiST index from
 * returning loads nearest first (Postgres sorts every load in the radius instead: 350 ms for
 * 42,000 loads near Dallas), so those order by distance alone and `queryBoard` orders ties.
 * `cells`: one of the two reads of a radius page in pickup order (see `cellsPage`).
 */
export function boardQuery(knex: Knex, opts: BoardQueryOptions, cells?: CellRead): Knex.QueryBuilder | Knex.Raw {
  const dir = opts.order ?? SORTS[opts.sort].dir;
  const keySql = sortKey(knex, opts);
  const q = pageFilter(knex, opts, keySql, cells?.prefix);
  if (opts.sort === 'deadhead') return q.orderByRaw(`${keySql} ${dir}`).limit(opts.limit + 1 + DEADHEAD_SLACK);
  if (!cells) return q.orderByRaw(`${keySql} ${dir}, load_id ${dir}`).limit(opts.limit + 1);
  // Each cell's loads from its own index, in pickup order, at most a page of them; then the best page of those.
  q.whereRaw(`${cellSql(cells.prefix)} = c.cell`);
  if (cells.bound) q.where('pickup_from', dir === 'asc' ? '<=' : '>=', cells.bound);
  const inner = q
    .orderByRaw(`pickup_from ${dir}, load_id ${dir}`)
    .limit(opts.limit + 1)
    .toSQL();
  return knex.raw(
    `select b.* from unnest(?::int[]) as c(cell) cross join lateral (${inner.sql}) as b order by b.pickup_from ${dir}, b.load_id ${dir} limit ?`,
    [cells.cells, ...inner.bindings, opts.limit + 1],
  );
}

/** Grid cells of one site to read, and the latest (earliest, descending) pickup worth reading. */
export interface CellRead {
  prefix: 'origin' | 'dest';
  cells: number[];
  bound?: Date;
}

/**
 * When to read a radius cell by cell: open loads in pickup order. Around a hub the GiST index
 * finds tens of thousands of loads in the radius, and Postgres fetches and sorts them all (350–450
 * ms at 1M loads); a cell's index yields its loads in order, so a page needs only its first few
 * rows from each cell. Of two radii, the one with fewer cells.
 */
export function radiusCells(opts: BoardQueryOptions): { prefix: 'origin' | 'dest'; cells: CircleCells } | undefined {
  const f = opts.filters;
  if (opts.sort !== 'pickup' || f.statuses.length !== 1 || f.statuses[0] !== 'posted') return undefined;
  const choices = [
    f.origin && { prefix: 'origin' as const, cells: cellsCovering(f.origin) },
    f.destination && { prefix: 'dest' as const, cells: cellsCovering(f.destination) },
  ].filter((c): c is { prefix: 'origin' | 'dest'; cells: CircleCells } => !!c?.cells);
  const size = (c: CircleCells) => c.inside.length + c.edge.length;
  return choices.sort((a, b) => size(a.cells) - size(b.cells))[0];
}

const byPickup = (dir: 'asc' | 'desc') => (a: Row, b: Row) =>
  (dir === 'asc' ? 1 : -1) *
  (a.pickup_from.getTime() - b.pickup_from.getTime() || (a.load_id < b.load_id ? -1 : a.load_id > b.load_id ? 1 : 0));

/**
 * A radius page in pickup order, in two reads. First the cells wholly inside the circle, where
 * every load is a candidate; if they fill a page, its last pickup bounds the second read, of the
 * cells the edge crosses: there, a cluster of loads just outside the radius would otherwise be
 * read to its end, and the bound stops each cell's index scan at that pickup instead. Any split
 * of the cells gives the same answer (every load still passes every filter); this one keeps both
 * reads short.
 */
async function cellsPage(
  knex: Knex,
  opts: BoardQueryOptions,
  prefix: 'origin' | 'dest',
  cells: CircleCells,
): Promise<Row[]> {
  const dir = opts.order ?? SORTS.pickup.dir;
  const want = opts.limit + 1;
  const read = async (c: CellRead) =>
    c.cells.length ? ((await boardQuery(knex, opts, c)) as unknown as { rows: Row[] }).rows : [];
  const inside = await read({ prefix, cells: cells.inside });
  const bound = inside.length === want ? inside[want - 1]!.pickup_from : undefined;
  const edge = await read({ prefix, cells: cells.edge, ...(bound ? { bound } : {}) });
  return [...inside, ...edge].sort(byPickup(dir)).slice(0, want);
}

type Row = BoardPage['rows'][number] & { deadhead_key?: number };

/** Nearest first, with ties of distance in load_id order, exactly. */
async function deadheadPage(knex: Knex, opts: BoardQueryOptions): Promise<Row[]> {
  const dir = opts.order ?? SORTS.deadhead.dir;
  const sign = dir === 'asc' ? 1 : -1;
  const byKey = (a: Row, b: Row) =>
    sign * (a.deadhead_key! - b.deadhead_key! || (a.load_id < b.load_id ? -1 : a.load_id > b.load_id ? 1 : 0));
  const fetched = (await boardQuery(knex, opts)) as Row[];
  const rows = [...fetched].sort(byKey);
  const want = opts.limit + 1;
  // Everything strictly nearer than the farthest row read is in hand; loads at exactly that
  // distance may not all be. When they reach into the page, read them all (in load_id order).
  const edge = fetched[fetched.length - 1]?.deadhead_key;
  if (
    edge === undefined ||
    fetched.length < opts.limit + 1 + DEADHEAD_SLACK ||
    rows.length < want ||
    rows[want - 1]!.deadhead_key !== edge
  ) {
    return rows.slice(0, want);
  }
  const keySql = sortKey(knex, opts);
  const ties = (await pageFilter(knex, opts, keySql)
    .whereRaw(`${keySql} = ?`, [edge])
    .orderBy('load_id', dir)
    .limit(want)) as Row[];
  return [...rows.filter((r) => r.deadhead_key !== edge), ...ties].sort(byKey).slice(0, want);
}

/**
 * One page of the board, keyset-paginated on (sort key, load_id): each page starts strictly
 * after the previous page's last row, so no OFFSET scan and no row seen twice as loads move.
 */
export async function queryBoard(knex: Knex, opts: BoardQueryOptions): Promise<BoardPage> {
  const { sort } = opts;
  const cells = radiusCells(opts);
  const rows =
    sort === 'deadhead'
      ? await deadheadPage(knex, opts)
      : cells
        ? await cellsPage(knex, opts, cells.prefix, cells.cells)
        : ((await boardQuery(knex, opts)) as Row[]);
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  if (rows.length <= opts.limit || !last) return { rows: page };
  const value =
    sort === 'deadhead' ? (last as Row).deadhead_key! : (last[SORTS[sort].column as keyof BoardRow] as Date | number);
  return { rows: page, next: { value: value instanceof Date ? value.toISOString() : value, loadId: last.load_id } };
}
