import { existsSync } from 'node:fs';
import path from 'node:path';
import { send } from '@koa/send';
import type { Middleware } from 'koa';
import { HttpProblem, PROBLEM_BASE } from './errors.js';

const PREFIX = '/dashboard';
/** Where `npm run build:web` (Vite) writes the dashboard. */
export const DASHBOARD_ROOT = path.resolve(import.meta.dirname, '../../web/dist');

/**
 * What the dashboard may load: its own files, and its API and Socket.IO on the same origin. Nothing
 * from anywhere else (no CDN, no tile server), which the browser then enforces too.
 */
const CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Serves the built dashboard at /dashboard/ as static files. Vite names its assets by their
 * content's hash, so they are cached for a year; index.html is revalidated on every load.
 */
export function dashboard(opts: { root?: string } = {}): Middleware {
  const root = opts.root ?? DASHBOARD_ROOT;
  return async function dashboard(ctx, next) {
    if (ctx.path !== PREFIX && !ctx.path.startsWith(`${PREFIX}/`)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new HttpProblem(405, `${PROBLEM_BASE}method-not-allowed`, 'The dashboard is read with GET');
    }
    if (ctx.path === PREFIX) return ctx.redirect(`${PREFIX}/`);
    if (!existsSync(path.join(root, 'index.html'))) {
      throw new HttpProblem(
        503,
        `${PROBLEM_BASE}dashboard-not-built`,
        'The dashboard has not been built on this server: run npm run build:web',
      );
    }
    let file: string;
    try {
      file = decodeURIComponent(ctx.path.slice(PREFIX.length + 1)) || 'index.html';
    } catch {
      throw new HttpProblem(400, `${PROBLEM_BASE}validation`, 'The path is not valid percent-encoding');
    }
    const hashed = file.startsWith('assets/');
    ctx.set('Content-Security-Policy', CSP);
    try {
      await send(ctx, file, { root, immutable: hashed, maxage: hashed ? 365 * 86_400_000 : 0, hidden: false });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404 || status === 400 || status === 403)
        throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No dashboard file ${file}`);
      throw err;
    }
    if (!hashed) ctx.set('Cache-Control', 'no-cache');
  };
}
