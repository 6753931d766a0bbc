import type { Knex } from 'knex';
import { z } from 'zod';
import type { TrackingService } from '../../application/tracking.js';
import { UNUSABLE_COORDINATE, usableCoordinate } from '../../domain/shared/geo.js';
import { checkPings, pingInput, type PingLimits } from '../../domain/tracking/pings.js';
import { formatPosition } from '../../eventstore/position.js';
import { loadParties } from '../../read-models/load-board/queries.js';
import { trackOf } from '../../read-models/tracking/queries.js';
import { type LatestLocations, maySee, type TrackedLoad } from '../../read-models/tracking/latest.js';
import { uuidParam } from '../commands.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { defineRoute, type Route } from '../route.js';

export interface TrackingDeps {
  knex: Knex;
  tracking: TrackingService;
  locations: LatestLocations;
  limits: PingLimits;
}

const MAX_BATCH = 500;

const fixSchema = z
  .object({
    lat: z.number(),
    lng: z.number(),
    speedMph: z.number(),
    headingDeg: z.number().optional(),
    accuracyM: z.number().optional(),
    recordedAt: z.string(),
    position: z.string().meta({ description: "Global position of the ping's event" }),
  })
  .meta({ id: 'Fix' });
const trackedSchema = z
  .object({
    loadId: z.string(),
    status: z.string().nullable(),
    truckId: z.string().nullable(),
    active: z.boolean().meta({ description: 'Being hauled now' }),
    location: fixSchema.nullable(),
  })
  .meta({ id: 'TrackedLoad' });

function tracked(t: TrackedLoad) {
  return {
    loadId: t.loadId,
    status: t.status ?? null,
    truckId: t.truckId ?? null,
    active: t.active,
    location: t.fix ? { ...t.fix, recordedAt: t.fix.recordedAt.toISOString() } : null,
  };
}

const notFound = (loadId: string) =>
  new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No tracked load ${loadId} that you may see`);

/** GPS ingest from drivers' phones, and where loads are: latest fix, nearby trucks, track history. */
export function trackingRoutes(deps: TrackingDeps): Route[] {
  return [
    defineRoute({
      method: 'post',
      path: '/tracking/pings',
      operationId: 'recordPings',
      summary: "Send a batch of GPS pings for the driver's current load",
      description:
        `Up to ${MAX_BATCH} pings. Each is checked on its own (coordinates, speed, a recordedAt neither in the future nor too old): ` +
        'bad ones are reported by index and the good ones kept. A ping id already stored is stored once, so retrying a batch is safe.',
      tags: ['Tracking'],
      roles: ['driver'],
      command: true,
      // Up to 500 pings.
      maxBodyKb: 512,
      body: z.object({
        loadId: z
          .uuid()
          .optional()
          .meta({ description: 'The load; needed only when the driver hauls several at once' }),
        pings: z
          .array(z.unknown())
          .min(1)
          .max(MAX_BATCH)
          .meta({ description: `Pings (see Ping), at most ${MAX_BATCH}` }),
      }),
      responses: {
        202: {
          description: 'The good pings are stored (or were already)',
          schema: z.object({
            loadId: z.string(),
            accepted: z.number().int(),
            rejected: z.array(z.object({ index: z.number().int(), errors: z.array(z.string()) })),
            position: z.string().nullable(),
          }),
        },
        422: { description: 'No ping in the batch is acceptable', schema: pingInput.meta({ id: 'Ping' }) },
      },
      async handle({ body, actor }) {
        const now = new Date();
        const { good, rejected } = checkPings(body.pings, now, deps.limits);
        if (good.length === 0) {
          throw new HttpProblem(422, `${PROBLEM_BASE}validation`, 'No ping in the batch is acceptable', { rejected });
        }
        const r = await deps.tracking.record(
          good,
          { ...(body.loadId ? { loadId: body.loadId } : {}), receivedAt: now },
          { actor },
        );
        return {
          status: 202,
          body: {
            loadId: r.loadId,
            accepted: good.length,
            rejected,
            position: r.position ? formatPosition(r.position) : null,
          },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tracking/nearby',
      operationId: 'trackingNearby',
      summary: 'Loads being hauled near a point, nearest first (the ones you may see)',
      tags: ['Tracking'],
      roles: 'any',
      query: z.object({
        lat: z.coerce.number().min(-85).max(85).refine(usableCoordinate, UNUSABLE_COORDINATE),
        lng: z.coerce.number().min(-180).max(180).refine(usableCoordinate, UNUSABLE_COORDINATE),
        radiusMi: z.coerce.number().min(0.1).max(500),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
      responses: {
        200: {
          description: 'Nearby loads',
          schema: z.object({ items: z.array(trackedSchema.extend({ distanceMi: z.number() })) }),
        },
      },
      async handle({ query, actor }) {
        // Staff see every load; others filter what the index returns, so look further for them.
        const staff = actor.roles.includes('admin') || actor.roles.includes('auditor');
        const near = await deps.locations.near(
          query,
          query.radiusMi,
          staff ? query.limit : Math.min(5_000, query.limit * 20),
        );
        const items = near.filter((t) => maySee(actor, t)).slice(0, query.limit);
        return {
          status: 200,
          body: { items: items.map((t) => ({ ...tracked(t), distanceMi: Math.round(t.distanceMi * 100) / 100 })) },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tracking/{loadId}/latest',
      operationId: 'latestLocation',
      summary: "A load's latest location (from Redis only)",
      tags: ['Tracking'],
      roles: 'any',
      params: z.object({ loadId: uuidParam('The load') }),
      responses: { 200: { description: 'The latest fix, or null before the first', schema: trackedSchema } },
      async handle({ params, actor }) {
        const t = await deps.locations.get(params.loadId);
        if (!t || !maySee(actor, t)) throw notFound(params.loadId);
        return { status: 200, body: tracked(t) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tracking/{loadId}/history',
      operationId: 'trackHistory',
      summary: "A load's track between two times, oldest first, thinned to maxPoints when longer",
      tags: ['Tracking'],
      roles: 'any',
      params: z.object({ loadId: uuidParam('The load') }),
      query: z.object({
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
        maxPoints: z.coerce
          .number()
          .int()
          .min(2)
          .max(20_000)
          .default(2_000)
          .meta({ description: 'Longer tracks are thinned to every n-th point, keeping the first and last' }),
      }),
      responses: {
        200: {
          description: 'The track',
          schema: z.object({
            loadId: z.string(),
            total: z.number().int().meta({ description: 'Points in the time range before thinning' }),
            points: z.array(
              z.object({
                pingId: z.string(),
                lat: z.number(),
                lng: z.number(),
                speedMph: z.number(),
                headingDeg: z.number().nullable(),
                accuracyM: z.number().nullable(),
                recordedAt: z.string(),
              }),
            ),
          }),
        },
      },
      async handle({ params, query, actor }) {
        const parties = await loadParties(deps.knex, params.loadId);
        if (!parties || !maySee(actor, parties)) throw notFound(params.loadId);
        const from = query.from ? new Date(query.from) : undefined;
        const to = query.to ? new Date(query.to) : undefined;
        if (from && to && from > to)
          throw new HttpProblem(400, `${PROBLEM_BASE}validation`, 'from must not be after to');
        const { points, total } = await trackOf(deps.knex, params.loadId, {
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          maxPoints: query.maxPoints,
        });
        return {
          status: 200,
          body: {
            loadId: params.loadId,
            total,
            points: points.map((p) => ({ ...p, recordedAt: p.recordedAt.toISOString() })),
          },
        };
      },
    }),
  ];
}
