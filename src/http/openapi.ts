import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import Router from '@koa/router';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import type { Route } from './route.js';

export const problemSchema = z
  .object({
    type: z
      .string()
      .meta({ description: 'A stable URN naming the problem, e.g. urn:freight:problem:concurrency-conflict' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    actualRevision: z.string().optional().meta({ description: 'On a concurrency conflict: the stream revision now' }),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

const commandHeaders = z.object({
  'idempotency-key': z.string().optional().meta({
    description:
      'Makes a retry safe: the first answer is returned and nothing is appended twice; reuse with another body is a 422',
  }),
  'if-match': z.string().optional().meta({
    description: 'The stream revision the command expects (from an ETag or a command answer); 409 when it moved',
  }),
});

/** The OpenAPI 3.1 document, built from the same route definitions (and zod schemas) the router runs. */
export function openApiDocument(routes: readonly Route[], version: string) {
  const paths: ZodOpenApiPathsObject = {};
  for (const r of routes) {
    const op: ZodOpenApiOperationObject = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: r.tags,
      security: [{ bearer: [] }],
      requestParams: {
        ...(r.params ? { path: r.params as z.ZodObject } : {}),
        ...(r.query ? { query: r.query as z.ZodObject } : {}),
        ...(r.command ? { header: commandHeaders } : {}),
      },
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      ...(r.method === 'post' && !r.body
        ? { description: `${r.description ? `${r.description} ` : ''}Takes no body: send none, or {}.` }
        : {}),
      responses: {
        ...Object.fromEntries(
          Object.entries(r.responses).map(([status, res]) => [
            status,
            {
              description: res.description,
              ...(res.schema ? { content: { 'application/json': { schema: res.schema } } } : {}),
            },
          ]),
        ),
        400: problem(
          'Malformed input (a field, a query parameter, text Postgres cannot store, JSON nested too deep or too large, a body on a command that takes none): nothing was changed',
        ),
        401: problem(
          'No valid bearer token (none, expired, without exp, or living longer than allowed), or its user or organisation is no longer active',
        ),
        403: problem("Not allowed for this role, or not this organisation's to act on"),
        ...(r.params && !r.responses[404]
          ? { 404: problem('No such thing, or one the caller may not see: the two answer alike, whatever its state') }
          : {}),
        ...(r.method === 'post'
          ? {
              413: problem('The body is larger than this route takes'),
              415: problem('A body that is not application/json in UTF-8'),
            }
          : {}),
        429: problem('Too many requests: retry after Retry-After seconds'),
        ...(r.command
          ? {
              409: problem('Not possible in the current state, or the stream moved (If-Match / a concurrent change)'),
              422: problem('A business rule refused it, or the Idempotency-Key was used with another request'),
            }
          : {}),
      },
    };
    paths[r.path] = { ...paths[r.path], [r.method]: op };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Freight marketplace API',
      version,
      description:
        'Commands are POSTs answering with the stream, its revision and the global position of the events appended. ' +
        "Queries read projections; pass a command answer's position as ?minPosition= to read your own write. Errors are application/problem+json. " +
        'Every answer carries X-Request-Id and X-Correlation-Id (send your own to join a story); when the service traces, a W3C traceparent header is continued and the trace id is answered as X-Trace-Id. ' +
        'Too many requests answer 429 with Retry-After.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  });
}

const require = createRequire(import.meta.url);
const SWAGGER_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Freight API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" href="/docs/assets/favicon-32x32.png"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script></body></html>`;
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true, persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });`;

/** `/openapi.json` and `/docs` (Swagger UI served from the swagger-ui-dist package: no CDN). */
export function docsRouter(routes: readonly Route[], version: string): Router {
  const router = new Router();
  let doc: string | undefined;
  router.get('/openapi.json', (ctx) => {
    doc ??= JSON.stringify(openApiDocument(routes, version));
    ctx.type = 'application/json';
    ctx.body = doc;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = DOCS_HTML;
  });
  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = INIT_JS;
  });
  const cache = new Map<string, Buffer>();
  router.get('/docs/assets/:file', async (ctx) => {
    const type = ASSETS[ctx.params.file!];
    if (!type) return;
    let content = cache.get(ctx.params.file!);
    if (!content) cache.set(ctx.params.file!, (content = await readFile(path.join(SWAGGER_DIR, ctx.params.file!))));
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = content;
  });
  return router;
}
