import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { loadBody } from '../support/loads.js';

describe('Protection: rate limits, headers, CORS, body limits, compression, ETags', () => {
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let driver: { orgId: string; userId: string; auth: string };

  before(async () => {
    h = await apiHarness('protection', {
      RATE_LIMIT_PER_IP: '10000',
      RATE_LIMIT_PER_USER: '6',
      RATE_LIMIT_GPS: '3',
      RATE_LIMIT_LOADBOARD: '4',
      RATE_LIMIT_PAYMENTS: '2',
      CORS_ORIGINS: 'https://dispatch.example, https://ops.example',
    });
    shipper = await h.member('shipper', ['shipper']);
    driver = await h.member('carrier', ['driver']);
  });
  after(() => h.close());

  const get = (auth: string, path: string) => h.http().get(path).set('Authorization', auth);

  describe('rate limits (Redis-backed, per user, by kind of request)', () => {
    it('gives the load board its own budget, answering 429 with Retry-After past it', async () => {
      for (let i = 0; i < 4; i++) await get(shipper.auth, '/loads').expect(200);
      const refused = await get(shipper.auth, '/loads').expect(429);
      expect(refused.body.type).to.equal('urn:freight:problem:rate-limited');
      expect(Number(refused.headers['retry-after'])).to.be.within(1, 60);
      // Other budgets of the same user, and other users, are untouched.
      await get(shipper.auth, `/orgs/${shipper.orgId}`).expect(200);
      await get(h.admin, '/loads').expect(200);
    });

    it('gives GPS pings and payments their own budgets', async () => {
      const ping = () => h.http().post('/tracking/pings').set('Authorization', driver.auth).send({ pings: [] });
      for (let i = 0; i < 3; i++) expect((await ping()).status).to.not.equal(429);
      await ping().expect(429);
      const audit = () => get(h.admin, `/audit/payments/${randomUUID()}`);
      await audit().expect(404);
      await audit().expect(404);
      await audit().expect(429);
    });

    it('counts per address too, and never limits the health checks', async () => {
      const h2 = await apiHarness('protection_ip', { RATE_LIMIT_PER_IP: '3' });
      try {
        for (let i = 0; i < 3; i++) await h2.http().get('/openapi.json').expect(200);
        await h2.http().get('/openapi.json').expect(429);
        await h2.http().get('/loads').set('Authorization', h2.admin).expect(429);
        await h2.http().get('/health').expect(200);
        // No proxy is trusted: a client cannot pick another address to be counted against.
        await h2.http().get('/openapi.json').set('X-Forwarded-For', '203.0.113.9').expect(429);
      } finally {
        await h2.close();
      }
    });
  });

  it('measures HTTP latency by route template and status at /metrics', async () => {
    await get(h.admin, `/orgs/${shipper.orgId}`).expect(200);
    const text = (await h.http().get('/metrics').expect(200)).text;
    expect(text).to.match(
      /http_request_duration_seconds_count\{method="GET",route="\/orgs\/\{orgId\}",status="200"\} [1-9]/,
    );
  });

  it('sends security headers', async () => {
    const res = await h.http().get('/health').expect(200);
    expect(res.headers).to.include({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN' });
    expect(res.headers['strict-transport-security']).to.match(/max-age=/);
    expect(res.headers).to.not.have.property('x-powered-by');
  });

  it('answers CORS for the configured origins only', async () => {
    const ok = await h
      .http()
      .options('/loads')
      .set('Origin', 'https://dispatch.example')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization');
    expect(ok.status).to.equal(204);
    expect(ok.headers['access-control-allow-origin']).to.equal('https://dispatch.example');
    expect(ok.headers['access-control-allow-headers']).to.match(/Authorization/);
    const other = await h
      .http()
      .options('/loads')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'GET');
    expect(other.headers).to.not.have.property('access-control-allow-origin');
  });

  it('limits body sizes per route: 64 KiB for commands, more for a batch of pings', async () => {
    const big = { name: 'x'.repeat(100 * 1024), kind: 'shipper' };
    const refused = await h.http().post('/orgs').set('Authorization', h.admin).send(big).expect(413);
    expect(refused.body.detail).to.match(/at most 64 KiB/);
    const pings = Array.from({ length: 500 }, () => ({
      id: randomUUID(),
      lat: 29.7,
      lng: -95.3,
      speedMph: 50,
      headingDeg: 90,
      accuracyM: 5,
      recordedAt: new Date().toISOString(),
    }));
    const h3 = await apiHarness('protection_body');
    try {
      const d = await h3.member('carrier', ['driver']);
      const res = await h3
        .http()
        .post('/tracking/pings')
        .set('Authorization', d.auth)
        .send({ pings, note: 'x'.repeat(40 * 1024) });
      expect(res.status).to.not.equal(413);
    } finally {
      await h3.close();
    }
  });

  it('compresses large answers', async () => {
    const res = await h.http().get('/openapi.json').set('Accept-Encoding', 'gzip').expect(200);
    expect(res.headers['content-encoding']).to.equal('gzip');
  });

  it('tags query answers with an ETag and answers 304 to If-None-Match until the data changes', async () => {
    const h4 = await apiHarness('protection_etag');
    try {
      const s = await h4.member('shipper', ['shipper']);
      const loadId = (await h4.http().post('/loads').set('Authorization', s.auth).send(loadBody(s.orgId)).expect(201))
        .body.loadId;
      await h4.settle();
      const first = await h4.http().get(`/loads/${loadId}`).set('Authorization', s.auth).expect(200);
      // A load's ETag is its stream revision; other queries get a hash of the answer.
      const etag = first.headers.etag as string;
      expect(etag).to.equal('"0"');
      const board = await h4.http().get('/loads').set('Authorization', s.auth).expect(200);
      expect(board.headers.etag).to.match(/^W\/".+"$/);
      await h4
        .http()
        .get('/loads')
        .set('Authorization', s.auth)
        .set('If-None-Match', board.headers.etag as string)
        .expect(304);
      const again = await h4
        .http()
        .get(`/loads/${loadId}`)
        .set('Authorization', s.auth)
        .set('If-None-Match', etag)
        .expect(304);
      expect(again.text ?? '').to.equal('');
      await h4
        .http()
        .post(`/loads/${loadId}/revise`)
        .set('Authorization', s.auth)
        .send({ rateCents: 190_000 })
        .expect(202);
      await h4.settle();
      const changed = await h4
        .http()
        .get(`/loads/${loadId}`)
        .set('Authorization', s.auth)
        .set('If-None-Match', etag)
        .expect(200);
      expect(changed.headers.etag).to.not.equal(etag);
    } finally {
      await h4.close();
    }
  });
});
