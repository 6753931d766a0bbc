/**
 * The ceiling of the HTTP command scenario: a bare Koa process with one route that parses a JSON
 * body and answers JSON, nothing else (no auth, no store). Prints {"port":N} once listening.
 */
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';

const app = new Koa();
app.use(bodyParser({ enableTypes: ['json'] }));
app.use((ctx) => {
  ctx.status = ctx.method === 'POST' ? 201 : 200;
  ctx.body = {
    ok: true,
    received: typeof ctx.request.body === 'object' ? Object.keys(ctx.request.body as object).length : 0,
  };
});
const server = app.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
