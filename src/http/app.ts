import cors from '@koa/cors';
import compress from 'koa-compress';
import helmet from 'koa-helmet';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../infra/logger.js';
import type { ApiDeps } from './api.js';
import { HttpProblem, PROBLEM_BASE } from './errors.js';
import { dashboard } from './dashboard.js';
import { problemJson } from './middleware/problem.js';
import { requestContext } from './middleware/request-context.js';
import { docsRouter } from './openapi.js';
import { mountRoutes } from './route.js';
import { type HealthDeps, healthRouter } from './routes/health.js';

export interface AppDeps extends HealthDeps {
  logger: Logger;
  /**
   * Proxies in front whose X-Forwarded-For is trusted (nginx in docker-compose: 1). 0: none, the
   * client's address is the socket's, so a client cannot choose its rate-limit key by sending the header.
   */
  trustedProxyHops?: number;
  /** The API (commands, queries, docs); absent in processes that only serve health checks. */
  api?: ApiDeps;
}

export const API_VERSION = '0.2.0';

/** The Koa app: request context, problem+json errors, then one router per feature. */
export function createApp(deps: AppDeps): Koa {
  const hops = deps.trustedProxyHops ?? 0;
  const app = new Koa(hops > 0 ? { proxy: true, maxIpsCount: hops } : { proxy: false });
  app.use(requestContext({ logger: deps.logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  app.use(problemJson({ logger: deps.logger }));
  app.use(async function hostRequired(ctx, next) {
    // RFC 9112: an HTTP/1.1 request without Host is a 400 (Node's own answer to it has no body).
    if (ctx.req.httpVersion === '1.1' && ctx.req.headers.host === undefined) {
      throw new HttpProblem(400, `${PROBLEM_BASE}missing-host`, 'An HTTP/1.1 request needs a Host header');
    }
    await next();
  });
  // Shutting down: requests already under way finish; a new one (on a kept-alive connection) is told
  // to come back, and every answer closes its connection, so the server can close.
  app.use(async function drainingGate(ctx, next) {
    if (!deps.draining()) return next();
    ctx.set('Connection', 'close');
    if (ctx.path === '/health' || ctx.path === '/ready' || ctx.path === '/metrics') return next();
    throw new HttpProblem(503, `${PROBLEM_BASE}shutting-down`, 'This process is shutting down; retry');
  });
  // Security headers; the API answers JSON, and /docs and the queue board serve their own scripts, so no CSP here.
  app.use(helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false }));
  // A client that refuses identity and every encoding we have (`identity;q=0`) made koa-compress set an
  // undefined Content-Encoding (a 500). RFC 9110 lets a server disregard such a header: answer uncompressed.
  app.use(async function acceptableEncoding(ctx, next) {
    if (ctx.get('accept-encoding') && !ctx.acceptsEncodings('zstd', 'br', 'gzip', 'deflate', 'identity'))
      delete ctx.request.headers['accept-encoding'];
    await next();
  });
  app.use(compress({ threshold: 1024 }));
  const health = healthRouter(deps);
  app.use(health.routes()).use(health.allowedMethods());
  if (deps.api) {
    app.use(dashboard());
    const allowed = new Set(deps.api.corsOrigins ?? []);
    if (allowed.size) {
      app.use(
        cors({
          origin: (ctx) => (allowed.has(ctx.get('origin')) ? ctx.get('origin') : ''),
          allowHeaders: [
            'Authorization',
            'Content-Type',
            'Idempotency-Key',
            'If-Match',
            'If-None-Match',
            'X-Correlation-Id',
            'X-Request-Id',
            'traceparent',
            'tracestate',
          ],
          exposeHeaders: [
            'ETag',
            'Retry-After',
            'Idempotent-Replayed',
            'Location',
            'X-Request-Id',
            'X-Correlation-Id',
            'X-Trace-Id',
          ],
          maxAge: 600,
        }),
      );
    }
    const limits = deps.api.limits;
    if (limits)
      app.use(async function ipRateLimit(ctx, next) {
        await limits.byIp(ctx);
        await next();
      });
    const docs = docsRouter(deps.api.routes, API_VERSION);
    app.use(docs.routes());
    for (const m of deps.api.middleware ?? []) app.use(m);
    // No body parser here: each route reads its own body, under its own limits, once the caller is known (route.ts).
    const api = new Router();
    mountRoutes(api, deps.api.routes, deps.api);
    app.use(api.routes()).use(api.allowedMethods());
  }
  return app;
}
