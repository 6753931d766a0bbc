import type { Middleware } from 'koa';
import { ZodError } from 'zod';
import type { Logger } from '../../infra/logger.js';
import { bigintReplacer } from '../../infra/logger.js';
import { WrongExpectedVersion } from '../../eventstore/errors.js';
import { hasBody } from '../body.js';
import { HttpProblem, PROBLEM_BASE, title } from '../errors.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [k: string]: unknown;
}

function toProblem(err: unknown): Problem {
  if (err instanceof ZodError) {
    return {
      type: `${PROBLEM_BASE}validation`,
      title: title(400),
      status: 400,
      detail: 'The request is not valid',
      errors: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    };
  }
  if (err instanceof HttpProblem) {
    return { type: err.type, title: title(err.status), status: err.status, detail: err.message, ...err.extra };
  }
  if (err instanceof WrongExpectedVersion) {
    // The client re-reads and retries with the revision the stream is at now.
    return {
      type: err.type,
      title: title(409),
      status: 409,
      detail: err.message,
      actualRevision: err.actual >= 0n ? err.actual.toString() : null,
    };
  }
  const e = err as { status?: unknown; type?: unknown; message?: string; expose?: boolean };
  // Typed domain/store errors carry status and type; Koa's own (body too large, bad JSON) carry status and expose.
  if (typeof e.status === 'number' && ((e.status >= 400 && e.status < 500) || e.status === 503)) {
    return {
      type: typeof e.type === 'string' && e.type.startsWith('urn:') ? e.type : `${PROBLEM_BASE}http-${e.status}`,
      title: title(e.status),
      status: e.status,
      detail: e.message ?? title(e.status),
    };
  }
  return { type: `${PROBLEM_BASE}internal`, title: title(500), status: 500, detail: 'An unexpected error occurred' };
}

/** Renders every error as application/problem+json; 5xx are logged with the request id. */
export function problemJson(opts: { logger: Logger }): Middleware {
  return async function problemJsonMiddleware(ctx, next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No route for ${ctx.method} ${ctx.path}`);
      }
      // The router answers a method the path does not take with 405, or 501 for one it does not know
      // at all (TRACE, PURGE…), with Allow and no body: both are the same refusal, and never a 5xx.
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
        throw new HttpProblem(405, `${PROBLEM_BASE}method-not-allowed`, `${ctx.method} is not taken here; see Allow`);
      }
    } catch (err) {
      const problem = toProblem(err);
      problem.instance = ctx.path;
      if (ctx.state.requestId) problem.requestId = ctx.state.requestId;
      if (problem.status >= 500) opts.logger.error('request failed', { err, method: ctx.method, path: ctx.path });
      ctx.status = problem.status;
      // A body refused before it was read (no token, a role, a limit) is not read at all: the
      // connection closes after the answer instead of taking in whatever the client still sends.
      if (hasBody(ctx) && !ctx.req.readableEnded) ctx.set('Connection', 'close');
      if (problem.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      if (problem.status === 503) ctx.set('Retry-After', '1');
      ctx.type = 'application/problem+json';
      ctx.body = JSON.stringify(problem, bigintReplacer);
    }
  };
}
