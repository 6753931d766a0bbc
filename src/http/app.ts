import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../infra/logger.js';
import type { ApiDeps } from './api.js';
import { problemJson } from './middleware/problem.js';
import { requestContext } from './middleware/request-context.js';
import { docsRouter } from './openapi.js';
import { mountRoutes } from './route.js';
import { type HealthDeps, healthRouter } from './routes/health.js';

export interface AppDeps extends HealthDeps {
  logger: Logger;
  /** The API (commands, queries, docs); absent in processes that only serve health checks. */
  api?: ApiDeps;
}

export const API_VERSION = '0.2.0';
/** Commands are small; a larger body is refused with 413 before it is parsed. */
const JSON_LIMIT = '256kb';

/** The Koa app: request context, problem+json errors, then one router per feature. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.use(requestContext({ logger: deps.logger }));
  app.use(problemJson({ logger: deps.logger }));
  const health = healthRouter(deps);
  app.use(health.routes()).use(health.allowedMethods({ throw: true }));
  if (deps.api) {
    const docs = docsRouter(deps.api.routes, API_VERSION);
    app.use(docs.routes());
    for (const m of deps.api.middleware ?? []) app.use(m);
    app.use(bodyParser({ enableTypes: ['json'], jsonLimit: JSON_LIMIT, encoding: 'utf-8' }));
    const api = new Router();
    mountRoutes(api, deps.api.routes, deps.api);
    app.use(api.routes()).use(api.allowedMethods({ throw: true }));
  }
  return app;
}
