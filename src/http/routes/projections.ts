import type { Knex } from 'knex';
import { z } from 'zod';
import { formatPosition } from '../../eventstore/position.js';
import { applyEvents, ProjectorFailed } from '../../projections/apply.js';
import { Checkpoints } from '../../projections/checkpoints.js';
import {
  isTransient,
  OPEN_STATUSES,
  PARKED_STATUSES,
  type ParkedEvent,
  ParkedEvents,
  type ParkedStatus,
} from '../../projections/parked.js';
import type { Projector } from '../../projections/types.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { defineRoute, type Route } from '../route.js';

const parkedEvent = z
  .object({
    projector: z.string(),
    generation: z.number().int(),
    eventId: z.string(),
    position: z.string(),
    streamId: z.string(),
    type: z.string(),
    error: z.string(),
    attempts: z.number().int(),
    status: z.enum(PARKED_STATUSES).meta({
      description:
        'parked: passed, the read model goes on without it; stopped: the projector waits on it; retrying / skipping: the projector is acting on an operator’s request; retried, skipped: done',
    }),
    parkedAt: z.string(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable().meta({ description: 'The user who asked to retry or skip it' }),
    event: z.object({
      id: z.string(),
      type: z.string(),
      streamId: z.string(),
      revision: z.string(),
      position: z.string(),
      data: z.unknown(),
      metadata: z.record(z.string(), z.unknown()),
      createdAt: z.string(),
    }),
  })
  .meta({ id: 'ParkedEvent' });

const outcome = z.object({ eventId: z.string(), status: z.enum(PARKED_STATUSES) });

function view(p: ParkedEvent) {
  const e = p.event;
  return {
    ...p,
    event: {
      id: e.id,
      type: e.type,
      streamId: e.streamId,
      revision: e.revision.toString(),
      position: formatPosition(e.position),
      data: e.data,
      metadata: e.metadata,
      createdAt: e.createdAt.toISOString(),
    },
  };
}

const projectorName = z.string().min(1).max(100).meta({ description: 'The projector (as in /ready)' });
const eventId = z.string().min(1).max(200).meta({ description: 'The parked event’s id' });

/**
 * Poison events, for operators (admin): what each projector's live generation could not apply,
 * with the error, and what to do about each. A parked event is retried here and now (applied to
 * the live read model after the events that came after it: what it changes must not depend on
 * them; a rebuild applies everything in order) or skipped (kept as a record). An event a projector
 * stopped on is retried or skipped by the projector itself, which picks the request up within a
 * second and goes on: answered 202.
 */
export function projectionRoutes(deps: { knex: Knex; projectors: readonly Projector[] }): Route[] {
  const parked = new ParkedEvents(deps.knex);
  const checkpoints = new Checkpoints(deps.knex);
  const projectorOf = (name: string): Projector => {
    const p = deps.projectors.find((x) => x.name === name);
    if (!p) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No projector ${name}`);
    return p;
  };
  const notFound = (name: string, id: string) =>
    new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No event ${id} is parked by ${name}`);

  return [
    defineRoute({
      method: 'get',
      path: '/admin/projections/{name}/parked',
      operationId: 'parkedEvents',
      summary:
        'Events the projector’s live read model could not apply, in log order, with the error (by default those still open)',
      tags: ['Projections'],
      roles: ['admin'],
      params: z.object({ name: projectorName }),
      query: z.object({
        status: z
          .string()
          .max(200)
          .optional()
          .transform((v, ctx) => {
            if (v === undefined) return undefined;
            const list = v.split(',').map((s) => s.trim());
            const bad = list.filter((s) => !(PARKED_STATUSES as readonly string[]).includes(s));
            if (bad.length) {
              ctx.addIssue({
                code: 'custom',
                message: `unknown status ${bad.join(', ')}; choose from ${PARKED_STATUSES.join(', ')}`,
              });
              return z.NEVER;
            }
            return list as ParkedStatus[];
          })
          .meta({ description: `Comma-separated statuses (default: ${OPEN_STATUSES.join(',')})` }),
        offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
      responses: {
        200: {
          description: 'Parked events',
          schema: z.object({ total: z.number().int(), events: z.array(parkedEvent) }),
        },
      },
      async handle({ params, query }) {
        projectorOf(params.name);
        const page = await parked.list(params.name, {
          ...(query.status ? { statuses: query.status } : {}),
          limit: query.limit,
          offset: query.offset,
        });
        return { status: 200, body: { total: page.total, events: page.events.map(view) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/projections/{name}/parked/{eventId}/retry',
      operationId: 'retryParkedEvent',
      summary:
        'Apply a parked event to the live read model now (200), or have a projector stopped on it try it again (202)',
      description:
        'A parked event is applied at once, after the events that came after it; if it still fails the answer is 422 with the error, which the list then shows. ' +
        'For the event a projector stopped on, the projector tries it again in order within a second and goes on if it applies; the list shows the outcome.',
      tags: ['Projections'],
      roles: ['admin'],
      params: z.object({ name: projectorName, eventId }),
      responses: {
        200: { description: 'Applied', schema: outcome },
        202: { description: 'The projector will try it again', schema: outcome },
        404: { description: 'No such projector or parked event' },
        409: { description: 'Already retried or skipped, or being acted on' },
        422: { description: 'It still cannot be applied' },
      },
      async handle({ params, actor }) {
        const projector = projectorOf(params.name);
        const result = await deps.knex.transaction(async (trx) => {
          // The projection's row lock: live batches of this projector wait, so nothing interleaves.
          const live = await checkpoints.lockLive(trx, projector.name);
          const row = await parked.get(projector.name, params.eventId, trx, { lock: true });
          if (!row || live === null) throw notFound(params.name, params.eventId);
          if (row.status === 'stopped') {
            await parked.setStatus(trx, projector.name, row.generation, row.eventId, 'retrying', actor.userId);
            return { failed: undefined, status: 202, body: { eventId: row.eventId, status: 'retrying' as const } };
          }
          if (row.status !== 'parked')
            throw new HttpProblem(
              409,
              `${PROBLEM_BASE}parked-event-settled`,
              `Event ${row.eventId} is ${row.status}, not parked or stopped`,
            );
          try {
            // Past the checkpoint's guard (the checkpoint is already past it), in a savepoint a failure spoils alone.
            await trx.transaction((sp) => applyEvents(sp, projector, live, [row.event], { rebuilding: false }));
          } catch (err) {
            if (!(err instanceof ProjectorFailed) || isTransient(err.cause)) throw err;
            await parked.park(trx, projector.name, row.generation, row.event, err.cause, 1, 'parked');
            return {
              failed: err.cause instanceof Error ? err.cause.message : String(err.cause),
              status: 422,
              body: undefined,
            };
          }
          await parked.setStatus(trx, projector.name, row.generation, row.eventId, 'retried', actor.userId);
          return { failed: undefined, status: 200, body: { eventId: row.eventId, status: 'retried' as const } };
        });
        if (result.failed !== undefined) {
          throw new HttpProblem(
            422,
            `${PROBLEM_BASE}parked-event-still-fails`,
            `${params.name} still cannot apply event ${params.eventId}: ${result.failed.slice(0, 500)}`,
          );
        }
        return { status: result.status, body: result.body };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/projections/{name}/parked/{eventId}/skip',
      operationId: 'skipParkedEvent',
      summary:
        'Accept that the read model goes without a parked event (200), or have a projector stopped on it pass it and go on (202)',
      tags: ['Projections'],
      roles: ['admin'],
      params: z.object({ name: projectorName, eventId }),
      responses: {
        200: { description: 'Skipped', schema: outcome },
        202: { description: 'The projector will pass it', schema: outcome },
        404: { description: 'No such projector or parked event' },
        409: { description: 'Already retried or skipped, or being acted on' },
      },
      async handle({ params, actor }) {
        const projector = projectorOf(params.name);
        return deps.knex.transaction(async (trx) => {
          const row = await parked.get(projector.name, params.eventId, trx, { lock: true });
          if (!row) throw notFound(params.name, params.eventId);
          if (row.status === 'stopped') {
            await parked.setStatus(trx, projector.name, row.generation, row.eventId, 'skipping', actor.userId);
            return { status: 202, body: { eventId: row.eventId, status: 'skipping' as const } };
          }
          if (row.status !== 'parked')
            throw new HttpProblem(
              409,
              `${PROBLEM_BASE}parked-event-settled`,
              `Event ${row.eventId} is ${row.status}, not parked or stopped`,
            );
          await parked.setStatus(trx, projector.name, row.generation, row.eventId, 'skipped', actor.userId);
          return { status: 200, body: { eventId: row.eventId, status: 'skipped' as const } };
        });
      },
    }),
  ];
}
