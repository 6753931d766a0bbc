import { z } from 'zod';
import { equipmentType, US_STATE } from '../../domain/load/schemas.js';
import { UNUSABLE_COORDINATE, usableCoordinate } from '../../domain/shared/geo.js';
import {
  type BoardFilters,
  type Keyset,
  queryBoard,
  SORTS,
  unrestricted,
  type SortName,
} from '../../read-models/load-board/query.js';
import { loadWithHistory } from '../../read-models/load-board/queries.js';
import { BOARD_STATUSES, type BoardStatus } from '../../read-models/load-board/row.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { minPositionQuery, readAfter, type ReadDeps } from '../read.js';
import { defineRoute, type Route, type Serialized, serialized } from '../route.js';
import type { PageCache } from '../../read-models/load-board/page-cache.js';
import { iso, loadSummary, toSummary } from '../../read-models/load-board/summary.js';

export { loadSummary, toSummary };

/** `a,b` or repeated `?x=a&x=b`. */
const list = <T extends z.ZodType<unknown, string>>(item: T, description: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).max(60))
    .optional()
    .meta({ description: `${description} (comma-separated or repeated)` });
const num = (description: string, min: number, max: number) =>
  z.coerce.number().min(min).max(max).optional().meta({ description });
const coordinate = (description: string, max: number) =>
  z.coerce.number().min(-max).max(max).refine(usableCoordinate, UNUSABLE_COORDINATE).optional().meta({ description });
const int = (description: string, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).optional().meta({ description });
const datetime = (description: string) => z.iso.datetime({ offset: true }).optional().meta({ description });

export const boardFilterQuery = z.object({
  status: list(z.enum(BOARD_STATUSES), 'Statuses; default posted'),
  originLat: coordinate(
    'Origin point latitude (with originLng and originRadiusMi): loads picked up within the radius, with their deadhead',
    90,
  ),
  originLng: coordinate('Origin point longitude', 180),
  originRadiusMi: num('Deadhead radius in miles around the origin point', 1, 3000),
  destLat: coordinate('Destination point latitude (with destLng and destRadiusMi)', 90),
  destLng: coordinate('Destination point longitude', 180),
  destRadiusMi: num('Radius in miles around the destination point', 1, 3000),
  originStates: list(US_STATE, 'Origin states, e.g. TX,OK'),
  destStates: list(US_STATE, 'Destination states'),
  equipment: list(equipmentType, 'Equipment types'),
  loadSize: z.enum(['full', 'partial']).optional(),
  pickupFrom: datetime('Pickup window overlaps from this time'),
  pickupTo: datetime('Pickup window overlaps until this time'),
  maxWeightLb: int('Heaviest load, lb', 1, 200_000),
  maxLengthFt: num('Longest load, ft', 1, 200),
  minRateCents: int('Lowest flat rate, cents', 0, 100_000_000),
  minRatePerMileCents: int('Lowest rate per mile, cents', 0, 1_000_000),
  maxAgeHours: num('Posted at most this many hours ago', 0, 24 * 365),
  shipperOrgId: z.uuid().optional(),
  flagged: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .meta({ description: 'Only loads flagged for review (true), or only unflagged ones (false)' }),
});

const boardQuery = boardFilterQuery.extend({
  sort: z
    .enum(Object.keys(SORTS) as [SortName, ...SortName[]])
    .default('pickup')
    .meta({
      description:
        'pickup (asc), rate, ratePerMile (desc), tripMiles (asc), deadhead (asc, needs the origin point), age (newest first)',
    }),
  order: z.enum(['asc', 'desc']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(512).optional().meta({ description: 'nextCursor of the previous page' }),
  minPosition: minPositionQuery,
});

type FilterQuery = z.output<typeof boardFilterQuery>;

/** Query parameters → filters; a point needs all three of its parameters. */
export function filtersOf(q: FilterQuery): BoardFilters {
  const point = (lat?: number, lng?: number, radiusMi?: number, name = 'origin') => {
    const given = [lat, lng, radiusMi].filter((v) => v !== undefined).length;
    if (given === 0) return undefined;
    if (given !== 3)
      throw new HttpProblem(400, `${PROBLEM_BASE}validation`, `${name}Lat, ${name}Lng and ${name}RadiusMi go together`);
    return { lat: lat!, lng: lng!, radiusMi: radiusMi! };
  };
  if (q.pickupFrom && q.pickupTo && q.pickupFrom > q.pickupTo)
    throw new HttpProblem(400, `${PROBLEM_BASE}validation`, 'pickupFrom must not be after pickupTo');
  const origin = point(q.originLat, q.originLng, q.originRadiusMi, 'origin');
  const destination = point(q.destLat, q.destLng, q.destRadiusMi, 'dest');
  return {
    statuses: q.status?.length ? (q.status as BoardStatus[]) : ['posted'],
    ...(origin ? { origin } : {}),
    ...(destination ? { destination } : {}),
    originStates: q.originStates,
    destStates: q.destStates,
    equipment: q.equipment,
    loadSize: q.loadSize,
    pickupFrom: q.pickupFrom ? new Date(q.pickupFrom) : undefined,
    pickupTo: q.pickupTo ? new Date(q.pickupTo) : undefined,
    maxWeightLb: q.maxWeightLb,
    maxLengthFt: q.maxLengthFt,
    minRateCents: q.minRateCents,
    minRatePerMileCents: q.minRatePerMileCents,
    maxAgeHours: q.maxAgeHours,
    shipperOrgId: q.shipperOrgId,
    ...(q.flagged !== undefined ? { flagged: q.flagged } : {}),
  };
}

const cursorShape = z.object({
  s: z.string(),
  o: z.enum(['asc', 'desc']),
  v: z.union([z.string(), z.number()]),
  id: z.uuid(),
});

export function encodeCursor(sort: string, order: 'asc' | 'desc', k: Keyset): string {
  return Buffer.from(JSON.stringify({ s: sort, o: order, v: k.value, id: k.loadId })).toString('base64url');
}

const INT_SORTS = new Set(['rate', 'ratePerMile', 'tripMiles']);
const INT4_MAX = 2_147_483_647;

function decodeCursor(text: string, sort: string, order: 'asc' | 'desc'): Keyset {
  let parsed: z.output<typeof cursorShape>;
  try {
    parsed = cursorShape.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new HttpProblem(400, `${PROBLEM_BASE}bad-cursor`, 'The cursor is not one this API gave out');
  }
  if (parsed.s !== sort || parsed.o !== order)
    throw new HttpProblem(
      400,
      `${PROBLEM_BASE}bad-cursor`,
      'The cursor belongs to another sort order; start again without it',
    );
  if (
    (sort === 'pickup' || sort === 'age') !== (typeof parsed.v === 'string') ||
    (typeof parsed.v === 'string' && Number.isNaN(Date.parse(parsed.v))) ||
    // The integer columns' keys: a forged 1.5 or 1e308 would reach Postgres as an integer it refuses.
    (INT_SORTS.has(sort) && !(Number.isInteger(parsed.v) && Math.abs(parsed.v as number) <= INT4_MAX)) ||
    (typeof parsed.v === 'number' && !Number.isFinite(parsed.v))
  ) {
    throw new HttpProblem(400, `${PROBLEM_BASE}bad-cursor`, 'The cursor is not one this API gave out');
  }
  return { value: parsed.v, loadId: parsed.id };
}

/** One page of the board as the API answers it. */
export interface BoardPage {
  items: z.output<typeof loadSummary>[];
  nextCursor: string | null;
}

/** A shared page, written once as JSON for everyone it is served to. */
export interface SharedPage {
  body: BoardPage;
  serialized: Serialized;
}

export function loadBoardRoutes(
  deps: ReadDeps & {
    /** Pages anyone of the same kind would get (see `unrestricted`), shared while the board is unchanged. */
    pages?: PageCache<SharedPage>;
  },
): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/loads',
      operationId: 'listLoads',
      summary: 'The load board: filter, sort and page through loads (keyset cursors)',
      description:
        "Carriers, drivers and dispatchers see every posted load plus the loads their organisation booked; shippers see their own organisation's loads; admins and auditors see all.",
      tags: ['Load board'],
      roles: 'any',
      query: boardQuery,
      responses: {
        200: {
          description: 'One page',
          schema: z.object({ items: z.array(loadSummary), nextCursor: z.string().nullable() }),
        },
      },
      async handle({ query, actor }) {
        const filters = filtersOf(query);
        if (query.sort === 'deadhead' && !filters.origin)
          throw new HttpProblem(
            400,
            `${PROBLEM_BASE}validation`,
            'sort=deadhead needs originLat, originLng and originRadiusMi',
          );
        const order = query.order ?? SORTS[query.sort].dir;
        const after = query.cursor ? decodeCursor(query.cursor, query.sort, order) : undefined;
        await readAfter(deps, 'load_board', query.minPosition);
        const read = async (): Promise<BoardPage> => {
          const now = new Date();
          const page = await queryBoard(deps.knex, {
            filters,
            actor,
            sort: query.sort,
            order,
            ...(after ? { after } : {}),
            limit: query.limit,
            now,
          });
          return {
            items: page.rows.map((r) => toSummary(r, now)),
            nextCursor: page.next ? encodeCursor(query.sort, order, page.next) : null,
          };
        };
        // A read that waited for its own write reads the rows themselves; an answer that depends on
        // who asks is never shared.
        if (deps.pages && !query.minPosition && unrestricted(actor, filters.statuses)) {
          const page = await deps.pages.get(JSON.stringify(query), async () => {
            const body = await read();
            return { body, serialized: serialized(body) };
          });
          return { status: 200, ...page };
        }
        return { status: 200, body: await read() };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/loads/{loadId}',
      operationId: 'getLoad',
      summary: 'One load with the history of its status changes',
      tags: ['Load board'],
      roles: 'any',
      params: z.object({ loadId: z.uuid() }),
      query: z.object({ minPosition: minPositionQuery }),
      responses: {
        200: {
          description: 'The load',
          schema: loadSummary.extend({
            history: z.array(
              z.object({
                revision: z.string(),
                event: z.string(),
                status: z.enum(BOARD_STATUSES),
                at: z.string(),
                actor: z.string().nullable(),
              }),
            ),
          }),
        },
        404: { description: 'No such load, or not visible to the caller' },
      },
      async handle({ params, query, actor }) {
        await readAfter(deps, 'load_board', query.minPosition);
        const found = await loadWithHistory(deps.knex, params.loadId, actor);
        if (!found) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No load ${params.loadId}`);
        const { row, history } = found;
        return {
          status: 200,
          headers: { ETag: `"${row.revision}"` },
          body: {
            ...toSummary({ ...row, deadhead_mi: null }, new Date()),
            history: history.map((h) => ({
              revision: String(h.revision),
              event: h.event_type,
              status: h.status,
              at: iso(h.at),
              actor: h.actor,
            })),
          },
        };
      },
    }),
  ];
}
