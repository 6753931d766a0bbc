import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { runWithContext } from '../../infra/context.js';
import type { Logger } from '../../infra/logger.js';
import type { Metrics } from '../../infra/metrics.js';
import { contextFrom, SpanKind, SpanStatusCode, withSpan } from '../../infra/tracing.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives each request an id (X-Request-Id, taken from the caller when well-formed) and a
 * correlation id (X-Correlation-Id, defaulting to the request id), carried by AsyncLocalStorage
 * into logs and, later, event metadata. Logs one line per request with status and duration.
 * When tracing, the request is a server span (continuing the caller's `traceparent`), its trace
 * id is answered as X-Trace-Id and logged.
 */
export function requestContext(opts: { logger: Logger; metrics?: Metrics }): Middleware {
  return async function requestContextMiddleware(ctx, next) {
    const given = ctx.get('x-request-id');
    const requestId = SAFE_ID.test(given) ? given : randomUUID();
    const corr = ctx.get('x-correlation-id');
    const correlationId = SAFE_ID.test(corr) ? corr : requestId;
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    ctx.set('X-Correlation-Id', correlationId);
    const started = process.hrtime.bigint();
    const parent = contextFrom({ traceparent: ctx.get('traceparent'), tracestate: ctx.get('tracestate') });
    await withSpan(
      `${ctx.method}`,
      {
        kind: SpanKind.SERVER,
        ...(parent ? { parent } : {}),
        attributes: { 'http.request.method': ctx.method, 'url.path': ctx.path },
      },
      async (span) => {
        const traceId = span?.spanContext().traceId;
        if (traceId) ctx.set('X-Trace-Id', traceId);
        await runWithContext({ requestId, correlationId, ...(traceId ? { traceId } : {}) }, async () => {
          try {
            await next();
          } finally {
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            // The route's template (not the path: ids would make a label per load), who asked, and how it went.
            const route =
              (ctx.state.route as string | undefined) ??
              (ctx as { _matchedRoute?: string })._matchedRoute ??
              'unmatched';
            const actor = ctx.state.actor as { userId: string; orgId: string } | undefined;
            opts.logger.http('request', {
              method: ctx.method,
              path: ctx.path,
              route,
              status: ctx.status,
              ms: Math.round(ms * 10) / 10,
              ...(actor ? { user: actor.userId, org: actor.orgId } : {}),
            });
            opts.metrics?.httpDuration.observe({ method: ctx.method, route, status: String(ctx.status) }, ms / 1000);
            if (span) {
              span.updateName(`${ctx.method} ${route}`);
              span.setAttributes({
                'http.route': route,
                'http.response.status_code': ctx.status,
                'freight.request_id': requestId,
                'freight.correlation_id': correlationId,
                ...(actor ? { 'enduser.id': actor.userId, 'freight.org_id': actor.orgId } : {}),
              });
              if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            }
          }
        });
      },
    );
  };
}
