import type Router from '@koa/router';
import type { Context } from 'koa';
import type { z } from 'zod';
import { AccessDenied } from '../auth/errors.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { Actor, Role } from '../domain/shared/actor.js';
import { HttpProblem, PROBLEM_BASE } from './errors.js';
import { fingerprint, IdempotencyStore } from './idempotency.js';
import { budgetOf, type RateLimits } from './middleware/rate-limits.js';
import { createHash } from 'node:crypto';
import { DEFAULT_BODY_LIMITS, readJsonBody, storable, unstorable } from './body.js';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  actor: Actor;
  /** The client's If-Match: the stream revision it expects. */
  ifMatch?: bigint;
  /** The Idempotency-Key, scoped to the caller (commands only). */
  idempotencyKey?: string;
  ctx: Context;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A GET answer's JSON and ETag made beforehand (`serialized`): an answer served many times is written once. */
  serialized?: Serialized;
}

export interface Serialized {
  json: string;
  etag: string;
}

/** A query's answer as `respond` writes it: its JSON and a weak ETag over it. */
export function serialized(body: unknown): Serialized {
  const json = JSON.stringify(body);
  return { json, etag: `W/"${createHash('sha1').update(json).digest('base64url')}"` };
}

export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  method: 'get' | 'post';
  /** OpenAPI style: `/loads/{loadId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Roles allowed (any of them), or 'any' authenticated caller. */
  roles: readonly Role[] | 'any';
  params?: P;
  query?: Q;
  body?: B;
  /** A command: takes Idempotency-Key and If-Match. */
  command?: boolean;
  /** Largest JSON body accepted, in KiB (default 64): a larger one is a 413. */
  maxBodyKb?: number;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handle(input: RouteInput<Out<P>, Out<Q>, Out<B>>): Promise<Answer>;
}

/** A route with its input types erased: what routers and the OpenAPI builder hold. */
export type Route = Omit<RouteDef, 'handle' | 'params' | 'query' | 'body'> & {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  handle(input: RouteInput<unknown, unknown, unknown>): Promise<Answer>;
};

/** Declares a route once: the Koa router and the OpenAPI document are both built from it. */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(def: RouteDef<P, Q, B>): Route {
  return def as unknown as Route;
}

export interface MountDeps {
  auth: Authenticator;
  idempotency: IdempotencyStore;
  /** Per-user budgets (by kind of request); absent: no limits. */
  limits?: RateLimits;
}

const DEFAULT_MAX_BODY_KB = 64;

const REVISION = /^(?:W\/)?"?(\d{1,20})"?$/;

function parseIfMatch(header: string): bigint | undefined {
  if (!header) return undefined;
  const m = REVISION.exec(header.trim());
  if (!m) throw new HttpProblem(400, `${PROBLEM_BASE}bad-if-match`, 'If-Match must be a stream revision, e.g. "3"');
  return BigInt(m[1]!);
}

export function koaPath(openApiPath: string): string {
  return openApiPath.replace(/\{(\w+)\}/g, ':$1');
}

/** A command without a body schema accepts no body, or `{}`; anything else is refused, not ignored. */
function refuseBody(value: unknown): void {
  if (value === undefined) return;
  const empty = value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;
  if (!empty)
    throw new HttpProblem(400, `${PROBLEM_BASE}unexpected-body`, 'This command takes no body: send none, or {}');
}

/** Query and path texts reach SQL and the event store: refuse what Postgres cannot store, naming it. */
function checkTexts(where: 'query' | 'path', values: Record<string, unknown>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!storable(name)) throw unstorable(where);
    for (const s of Array.isArray(v) ? v : [v])
      if (typeof s === 'string' && !storable(s)) throw unstorable(`${where}.${name}`);
  }
}

export function mountRoutes(router: Router, routes: readonly Route[], deps: MountDeps): void {
  for (const def of routes) {
    const schemas = { params: def.params, query: def.query, body: def.body };
    const limits = { ...DEFAULT_BODY_LIMITS, maxBytes: (def.maxBodyKb ?? DEFAULT_MAX_BODY_KB) * 1024 };
    router[def.method](def.operationId, koaPath(def.path), async function routeHandler(ctx) {
      ctx.state.route = def.path;
      // Who asks, and whether their role may ask at all, before anything of the request is read.
      const actor = await deps.auth.fromAuthorizationHeader(ctx.get('authorization') || undefined);
      ctx.state.actor = actor;
      if (def.roles !== 'any' && !def.roles.some((r) => actor.roles.includes(r))) {
        throw new AccessDenied(`This needs the role ${def.roles.join(' or ')}`);
      }
      await deps.limits?.byUser(ctx, actor, budgetOf(def.path));
      const ifMatch = def.command ? parseIfMatch(ctx.get('if-match')) : undefined;
      const key = def.command ? ctx.get('idempotency-key') : '';
      // An empty Idempotency-Key header is a malformed key, not no key.
      if (def.command && (key || ctx.req.headers['idempotency-key'] !== undefined) && !IdempotencyStore.validKey(key)) {
        throw new HttpProblem(
          400,
          `${PROBLEM_BASE}bad-idempotency-key`,
          'Idempotency-Key must be 1 to 255 visible ASCII characters',
        );
      }
      // Queries ignore a body; a command reads one (under its limits) and refuses one it does not take.
      const rawBody = def.method === 'post' ? await readJsonBody(ctx, limits) : undefined;
      if (def.method === 'post' && !schemas.body) refuseBody(rawBody);
      checkTexts('path', ctx.params);
      checkTexts('query', ctx.query);
      const params = schemas.params ? schemas.params.parse(ctx.params) : undefined;
      const query = schemas.query ? schemas.query.parse(ctx.query) : undefined;
      const body = schemas.body ? schemas.body.parse(rawBody ?? {}) : undefined;
      const input = { params, query, body, actor, ifMatch, ctx } as RouteInput<unknown, unknown, unknown>;

      if (!key) return respond(ctx, await def.handle(input));
      // The body is bounded in depth and size by now: its fingerprint cannot overflow anything.
      const fp = fingerprint([def.operationId, ctx.path, rawBody ?? null, ifMatch?.toString() ?? null]);
      const begun = await deps.idempotency.begin(actor.userId, key, fp);
      if (begun.kind === 'replay') {
        ctx.set('Idempotent-Replayed', 'true');
        const body = begun.answer.body;
        const replayed =
          body !== null && typeof body === 'object' && 'replayed' in body ? { ...body, replayed: true } : body;
        return respond(ctx, { ...begun.answer, body: replayed });
      }
      let answer: Answer;
      try {
        answer = await def.handle({ ...input, idempotencyKey: `${actor.userId}:${key}` });
      } catch (err) {
        await deps.idempotency.release(actor.userId, key).catch(() => {});
        throw err;
      }
      await deps.idempotency.complete(actor.userId, key, fp, {
        status: answer.status,
        body: answer.body ?? null,
        headers: answer.headers ?? {},
      });
      respond(ctx, answer);
    });
  }
}

function respond(ctx: Context, answer: Answer) {
  ctx.status = answer.status;
  for (const [k, v] of Object.entries(answer.headers ?? {})) ctx.set(k, v);
  if (answer.body === undefined || answer.body === null) return;
  if (ctx.method !== 'GET' || answer.status !== 200) {
    ctx.body = answer.body;
    return;
  }
  // Queries: a weak ETag over the answer, and 304 when the client already has it.
  const { json, etag: weak } = answer.serialized ?? serialized(answer.body);
  const etag = answer.headers?.ETag ?? weak;
  ctx.set('ETag', etag);
  ctx.set('Cache-Control', 'private, no-cache');
  const match = ctx.get('if-none-match');
  if (match && match.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    ctx.status = 304;
    return;
  }
  ctx.type = 'application/json';
  ctx.body = json;
}
