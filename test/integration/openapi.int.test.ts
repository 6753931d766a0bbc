import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';

describe('The OpenAPI document and /docs', () => {
  let h: ApiHarness;
  before(async () => {
    h = await apiHarness('openapi');
  });
  after(async () => {
    await h.close();
  });

  it('describes every route the router serves, from the same zod schemas', async () => {
    const res = await h.http().get('/openapi.json').expect(200);
    const doc = res.body;
    expect(doc.openapi).to.equal('3.1.0');
    expect(h.routes.length).to.be.greaterThan(20);
    for (const r of h.routes) {
      const op = doc.paths[r.path]?.[r.method];
      expect(op, `${r.method} ${r.path}`).to.be.an('object');
      expect(op.operationId).to.equal(r.operationId);
      expect(op.security).to.deep.equal([{ bearer: [] }]);
      if (r.body) expect(op.requestBody.content['application/json'].schema, r.operationId).to.be.an('object');
      if (r.command)
        expect(op.parameters.map((p: { name: string }) => p.name)).to.include.members(['idempotency-key', 'if-match']);
      expect(op.responses['400'].content['application/problem+json'].schema.$ref).to.equal(
        '#/components/schemas/Problem',
      );
    }
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) =>
      Object.values(p).map((o) => o.operationId),
    );
    expect(new Set(ops).size).to.equal(h.routes.length);
    // The request schema is the domain's: the equipment list, integer cents, ISO dates.
    const post = doc.paths['/loads'].post.requestBody.content['application/json'].schema;
    const body = post.$ref ? doc.components.schemas[post.$ref.split('/').pop()] : post;
    expect(body.properties.equipmentType.enum).to.include.members(['flatbed', 'step_deck', 'power_only']);
    expect(body.properties.rateCents.type).to.equal('integer');
    expect(body.required).to.include.members(['shipperOrgId', 'commodity', 'origin', 'pickupWindow', 'rateCents']);
  });

  it('serves a browsable /docs with its assets from the package, no CDN', async () => {
    const page = await h.http().get('/docs').expect(200);
    expect(page.headers['content-type']).to.match(/text\/html/);
    const srcs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(srcs.every((s) => s.startsWith('/docs/'))).to.equal(true);
    for (const s of srcs) await h.http().get(s).expect(200);
    await h.http().get('/docs/assets/package.json').expect(404);
  });
});
