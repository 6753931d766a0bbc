import Koa from 'koa';
import type { Logger } from '../infra/logger.js';
import { problemJson } from './middleware/problem.js';
import { requestContext } from './middleware/request-context.js';
import { type HealthDeps, healthRouter } from './routes/health.js';

export interface AppDeps extends HealthDeps {
  logger: Logger;
}

/** The Koa app: request context, problem+json errors, then one router per feature. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.use(requestContext({ logger: deps.logger }));
  app.use(problemJson({ logger: deps.logger }));
  const health = healthRouter(deps);
  app.use(health.routes()).use(health.allowedMethods({ throw: true }));
  return app;
}
