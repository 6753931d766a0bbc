import { z } from 'zod';
import { Checkpoints } from '../../projections/checkpoints.js';
import { queryBoard } from '../../read-models/load-board/query.js';
import type { SearchIndex } from '../../read-models/search/types.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { minPositionQuery, readAfter, type ReadDeps } from '../read.js';
import { defineRoute, type Route } from '../route.js';
import { boardFilterQuery, filtersOf, loadSummary, toSummary } from './load-board.js';

const MAX_OFFSET = 1_000;

/** `GET /search/loads?q=`: commodity search with the board's filters, ranked by relevance. */
export function searchRoutes(deps: ReadDeps & { search: SearchIndex }): Route[] {
  const checkpoints = new Checkpoints(deps.knex);
  return [
    defineRoute({
      method: 'get',
      path: '/search/loads',
      operationId: 'searchLoads',
      summary: 'Typo-tolerant commodity search over loads, with the load board filters',
      description: 'Ranked by relevance; pages by cursor up to 1,000 results deep (refine the query beyond that).',
      tags: ['Load board'],
      roles: 'any',
      query: boardFilterQuery.extend({
        q: z
          .string()
          .trim()
          .min(1)
          .max(200)
          .meta({ description: 'Words of the commodity, description, reference or cities; typos are tolerated' }),
        limit: z.coerce.number().int().min(1).max(100).default(25),
        cursor: z.string().max(64).optional(),
        minPosition: minPositionQuery,
      }),
      responses: {
        200: {
          description: 'One page of hits, best first',
          schema: z.object({
            items: z.array(loadSummary),
            estimatedTotal: z.number().int(),
            engine: z.enum(['meilisearch', 'postgres']),
            nextCursor: z.string().nullable(),
          }),
        },
      },
      async handle({ query, actor }) {
        const filters = filtersOf(query);
        let offset = 0;
        if (query.cursor) {
          const m = /^o(\d{1,4})$/.exec(Buffer.from(query.cursor, 'base64url').toString('utf8'));
          if (!m || Number(m[1]) > MAX_OFFSET)
            throw new HttpProblem(400, `${PROBLEM_BASE}bad-cursor`, 'The cursor is not one this API gave out');
          offset = Number(m[1]);
        }
        await readAfter(deps, 'load_search', query.minPosition);
        const live = await checkpoints.liveGeneration('load_search');
        if (!live) throw new HttpProblem(503, `${PROBLEM_BASE}not-ready`, 'The search index is still being built');
        const now = new Date();
        const hits = await deps.search.search(live.generation, {
          q: query.q,
          filters,
          actor,
          limit: query.limit,
          offset,
          now,
        });
        // Hydrate from the board, which also applies every filter and visibility rule exactly.
        const page = hits.ids.length
          ? await queryBoard(deps.knex, {
              filters: { ...filters, loadIds: hits.ids },
              actor,
              sort: 'pickup',
              limit: hits.ids.length,
              now,
            })
          : { rows: [] };
        const byId = new Map(page.rows.map((r) => [r.load_id, r]));
        const items = hits.ids.flatMap((id) => (byId.has(id) ? [toSummary(byId.get(id)!, now)] : []));
        const nextOffset = offset + query.limit;
        const more = hits.ids.length === query.limit && nextOffset < Math.min(hits.estimatedTotal, MAX_OFFSET);
        return {
          status: 200,
          body: {
            items,
            estimatedTotal: hits.estimatedTotal,
            engine: deps.search.name,
            nextCursor: more ? Buffer.from(`o${nextOffset}`).toString('base64url') : null,
          },
        };
      },
    }),
  ];
}
