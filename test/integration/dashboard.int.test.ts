import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { dashboard } from '../../src/http/dashboard.js';
import { problemJson } from '../../src/http/middleware/problem.js';
import { testLogger } from '../support/services.js';

describe('Serving the dashboard at /dashboard', () => {
  const built = mkdtempSync(path.join(os.tmpdir(), 'dashboard-'));
  mkdirSync(path.join(built, 'assets'));
  writeFileSync(
    path.join(built, 'index.html'),
    '<!doctype html><title>x</title><script type="module" src="/dashboard/assets/app-abc123.js"></script>',
  );
  writeFileSync(path.join(built, 'assets', 'app-abc123.js'), 'console.log(1)');
  const app = (root: string) => {
    const a = new Koa();
    a.use(problemJson({ logger: testLogger }));
    a.use(dashboard({ root }));
    a.use((ctx) => {
      ctx.body = { api: true };
    });
    return request(a.callback());
  };

  it('serves the page revalidated each time, and its hashed assets cached for a year, under a CSP that allows only this origin', async () => {
    const page = await app(built).get('/dashboard/').expect(200);
    expect(page.type).to.equal('text/html');
    expect(page.headers['cache-control']).to.equal('no-cache');
    expect(page.headers['content-security-policy'])
      .to.match(/default-src 'self'/)
      .and.match(/connect-src 'self' ws: wss:/);
    const asset = await app(built).get('/dashboard/assets/app-abc123.js').expect(200);
    expect(asset.headers['cache-control'])
      .to.match(/max-age=31536000/)
      .and.match(/immutable/);
    await app(built).get('/dashboard').expect(302).expect('Location', '/dashboard/');
  });

  it('answers problems for what it cannot serve, and leaves other paths to the API', async () => {
    const missing = await app(built).get('/dashboard/assets/nope.js').expect(404);
    expect(missing.body.type).to.equal('urn:freight:problem:not-found');
    await app(built).get('/dashboard/../package.json').expect(404);
    await app(built).get('/dashboard/%E0%A4%A').expect(400);
    await app(built).post('/dashboard/').expect(405).expect('Allow', 'GET, HEAD');
    const unbuilt = await app(path.join(built, 'missing')).get('/dashboard/').expect(503);
    expect(unbuilt.body.detail).to.match(/npm run build:web/);
    expect((await app(built).get('/dashboards').expect(200)).body).to.deep.equal({ api: true });
  });
});
