import type { Knex } from 'knex';
import { z } from 'zod';
import { loadState } from '../../application/lookups.js';
import { recordPings } from '../../application/tracking.js';
import { mayActAs, mustSee } from '../../domain/load/access.js';
import type { Actor } from '../../domain/shared/actor.js';
import { UNUSABLE_COORDINATE, usableCoordinate } from '../../domain/shared/geo.js';
import { checkPings, pingInput, type PingLimits } from '../../domain/tracking/pings.js';
import { formatPosition } from '../../eventstore/position.js';
import type { EventStore } from '../../eventstore/types.js';
import { currentContext } from '../../infra/context.js';
import { traceCarrier } from '../../infra/tracing.js';
import { loadParties, loadsOfDriver } from '../../read-models/load-board/queries.js';
import { trackOf } from '../../read-models/tracking/history-projector.js';
import { type LatestLocations, maySee, type TrackedLoad } from '../../read-models/tracking/latest.js';
import { uuidParam } from '../commands.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { defineRoute, type Route } from '../route.js';

export interface TrackingDeps {
  knex: Knex;
  store: EventStore;
  locations: LatestLocations;
  limits: PingLimits;
  retentionDays: number;
}

/** The statuses in which a load is hauled, and so tracked. */
const HAULING = ['assigned', 'picked_up', 'in_transit'] as const;
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

const notFound = (loadId: string) => new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No tracked load ${loadId} that you may see`);

/** GPS ingest from drivers' phones, and where loads are: latest fix, nearby trucks, track history. */
export function trackingRoutes(deps: TrackingDeps): Route[] {
  /** The load the driver is hauling: the one named, or the only one. Checked against the load's own stream. */
  async function currentLoad(actor: Actor, named?: string): Promise<string> {
    const driverId = actor.userId;
    let loadId = named;
    if (!loadId) {
      const loadIds = await loadsOfDriver(deps.knex, driverId, HAULING, 2);
      if (loadIds.length > 1) {
        throw new HttpProblem(422, `${PROBLEM_BASE}which-load`, 'You are assigned to several loads being hauled: name the loadId');
      }
      loadId = loadIds[0];
    }
    const state = loadId ? await loadState(deps.store, loadId) : undefined;
    // A named load the driver may not see is the read's 404; one it sees but its organisation does
    // not haul, a 403: neither says who hauls it or in what state it is.
    if (named && state) {
      mustSee(actor, state, named);
      mayActAs(actor, state, 'hauler');
    }
    const hauling = state && 'assignment' in state && (HAULING as readonly string[]).includes(state.status) && state.assignment.driverId === driverId;
    if (!hauling) {
      throw new HttpProblem(409, `${PROBLEM_BASE}no-load-to-track`, named ? `You are not hauling load ${named} now` : 'You are not assigned to a load being hauled');
    }
    return loadId!;
  }

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
        loadId: z.uuid().optional().meta({ description: 'The load; needed only when the driver hauls several at once' }),
        pings: z.array(z.unknown()).min(1).max(MAX_BATCH).meta({ description: `Pings (see Ping), at most ${MAX_BATCH}` }),
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
        const loadId = await currentLoad(actor, body.loadId);
        const ctx = currentContext();
        const r = await recordPings(deps.store, loadId, good, {
          receivedAt: now,
          retentionSeconds: deps.retentionDays * 86_400,
          // No actor: who drove lives in the load's assignment, not in pings that retention deletes.
          metadata: { ...traceCarrier(), ...(ctx?.correlationId ? { correlationId: ctx.correlationId } : {}), ...(ctx?.requestId ? { causationId: ctx.requestId } : {}) },
        });
        return { status: 202, body: { loadId, accepted: good.length, rejected, position: r.position ? formatPosition(r.position) : null } };
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
      responses: { 200: { description: 'Nearby loads', schema: z.object({ items: z.array(trackedSchema.extend({ distanceMi: z.number() })) }) } },
      async handle({ query, actor }) {
        // Staff see every load; others filter what the index returns, so look further for them.
        const staff = actor.roles.includes('admin') || actor.roles.includes('auditor');
        const near = await deps.locations.near(query, query.radiusMi, staff ? query.limit : Math.min(5_000, query.limit * 20));
        const items = near.filter((t) => maySee(actor, t)).slice(0, query.limit);
        return { status: 200, body: { items: items.map((t) => ({ ...tracked(t), distanceMi: Math.round(t.distanceMi * 100) / 100 })) } };
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
        maxPoints: z.coerce.number().int().min(2).max(20_000).default(2_000).meta({ description: 'Longer tracks are thinned to every n-th point, keeping the first and last' }),
      }),
      responses: {
        200: {
          description: 'The track',
          schema: z.object({
            loadId: z.string(),
            total: z.number().int().meta({ description: 'Points in the time range before thinning' }),
            points: z.array(z.object({ pingId: z.string(), lat: z.number(), lng: z.number(), speedMph: z.number(), headingDeg: z.number().nullable(), accuracyM: z.number().nullable(), recordedAt: z.string() })),
          }),
        },
      },
      async handle({ params, query, actor }) {
        const parties = await loadParties(deps.knex, params.loadId);
        if (!parties || !maySee(actor, parties)) throw notFound(params.loadId);
        const from = query.from ? new Date(query.from) : undefined;
        const to = query.to ? new Date(query.to) : undefined;
        if (from && to && from > to) throw new HttpProblem(400, `${PROBLEM_BASE}validation`, 'from must not be after to');
        const { points, total } = await trackOf(deps.knex, params.loadId, { ...(from ? { from } : {}), ...(to ? { to } : {}), maxPoints: query.maxPoints });
        return { status: 200, body: { loadId: params.loadId, total, points: points.map((p) => ({ ...p, recordedAt: p.recordedAt.toISOString() })) } };
      },
    }),
  ];
}
