import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { loadBody } from '../support/loads.js';

/** An HTTP answer read off a raw socket: whatever the server wrote before it closed. */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parse(text: string): RawAnswer {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/** Opens a connection that records what the server sends and when it closes. */
function open(port: number): { socket: Socket; received: () => string; closed: () => boolean; ready: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  return {
    socket,
    received: () => text,
    closed: () => closed,
    ready: new Promise((r) => socket.once('connect', () => r())),
  };
}

/** Sends bytes and reads until the server closes the connection. */
async function raw(port: number, data: string | Buffer): Promise<RawAnswer> {
  const c = open(port);
  await c.ready;
  c.socket.write(data);
  expect(await until(c.closed, 10_000), 'the server closed the connection').to.equal(true);
  return parse(c.received());
}

function expectProblem(a: RawAnswer, status: number, type: string) {
  expect(a.status).to.equal(status);
  expect(a.headers['content-type']).to.equal('application/problem+json');
  const body = JSON.parse(a.body) as { type: string; status: number; detail: string };
  expect(body).to.include({ type: `urn:freight:problem:${type}`, status });
  expect(body.detail).to.be.a('string').and.not.equal('');
}

describe('Limits of the HTTP server: slow clients, oversized and malformed requests, body shapes', function () {
  let h: ApiHarness;
  let port: number;
  let shipper: { orgId: string; userId: string; auth: string };

  before(async () => {
    h = await apiHarness(
      'http_limits',
      { HTTP_HEADERS_TIMEOUT_MS: '2000', HTTP_REQUEST_TIMEOUT_MS: '4000', HTTP_MAX_HEADER_BYTES: '8192' },
      { listen: true },
    );
    port = Number(new URL(h.baseUrl!).port);
    shipper = await h.member('shipper', ['shipper']);
  });
  after(() => h.close());

  // What is committed, not what readers see yet: a late-readable earlier commit must not look like an append.
  const head = () => h.committed();

  describe('slow clients', () => {
    it('closes connections that trickle their headers, answering 408, and keeps serving others', async () => {
      const conns = Array.from({ length: 20 }, () => open(port));
      await Promise.all(conns.map((c) => c.ready));
      const request = `GET /loads HTTP/1.1\r\nHost: x\r\nAuthorization: ${shipper.auth}\r\n`;
      let sent = 0;
      // One byte per connection every 200 ms: the headers would take many times the 2 s allowed.
      const trickle = setInterval(() => {
        for (const c of conns) if (!c.closed()) c.socket.write(request[sent % request.length]!);
        sent++;
      }, 200);
      try {
        expect(
          await until(() => conns.every((c) => c.closed()), 20_000, 100),
          'every trickling connection was closed',
        ).to.equal(true);
      } finally {
        clearInterval(trickle);
      }
      for (const c of conns) expectProblem(parse(c.received()), 408, 'request-timeout');
      // A client that sends its request in a few pieces, in time, is served.
      const polite = open(port);
      await polite.ready;
      for (const part of [
        `GET /loads HTTP/1.1\r\nHost: x\r\n`,
        `Authorization: ${shipper.auth}\r\n`,
        'Connection: close\r\n\r\n',
      ]) {
        polite.socket.write(part);
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(await until(polite.closed, 10_000)).to.equal(true);
      expect(parse(polite.received()).status).to.equal(200);
    });

    it('closes a connection that trickles its body, and appends nothing', async () => {
      const before = await head();
      const body = JSON.stringify(loadBody(shipper.orgId));
      const c = open(port);
      await c.ready;
      c.socket.write(
        `POST /loads HTTP/1.1\r\nHost: x\r\nAuthorization: ${shipper.auth}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
      );
      let i = 0;
      const trickle = setInterval(() => !c.closed() && c.socket.write(body[i++] ?? ' '), 200);
      try {
        expect(await until(c.closed, 20_000, 100), 'the trickling connection was closed').to.equal(true);
      } finally {
        clearInterval(trickle);
      }
      expectProblem(parse(c.received()), 408, 'request-timeout');
      expect(await head()).to.equal(before);
    });
  });

  describe("the server's own refusals are problems too", () => {
    it('answers an oversized request line or header with 431 problem+json', async () => {
      expectProblem(
        await raw(port, `GET /loads?${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
        431,
        'headers-too-large',
      );
      expectProblem(
        await raw(port, `GET /loads HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`),
        431,
        'headers-too-large',
      );
    });

    it('answers a request that is not HTTP with 400 problem+json', async () => {
      expectProblem(await raw(port, 'HELLO THERE\r\n\r\n'), 400, 'malformed-request');
      expectProblem(
        await raw(port, 'GET /loads HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello'),
        400,
        'malformed-request',
      );
    });
  });

  describe('bodies', () => {
    const post = (path: string, auth = shipper.auth) => h.http().post(path).set('Authorization', auth);

    it('refuses a body larger than the route takes with 413, by its length or as it streams', async () => {
      const before = await head();
      const big = JSON.stringify(loadBody(shipper.orgId, { description: 'x'.repeat(70 * 1024) }));
      const res = await post('/loads').set('Content-Type', 'application/json').send(big).expect(413);
      expect(res.body.type).to.equal('urn:freight:problem:payload-too-large');
      // Chunked, with no length given: counted as it arrives.
      const c = open(port);
      await c.ready;
      c.socket.write(
        `POST /loads HTTP/1.1\r\nHost: x\r\nAuthorization: ${shipper.auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      for (let i = 0; i < 80 && !c.closed() && !c.received(); i++)
        c.socket.write(`400\r\n${'['.repeat(0)}${' '.repeat(1024)}\r\n`);
      expect(await until(() => c.received().includes('\r\n\r\n'), 10_000)).to.equal(true);
      expect(parse(c.received()).status).to.equal(413);
      c.socket.destroy();
      expect(await head()).to.equal(before);
    });

    it('does not read the body of a request refused before its body (no token): answers and closes', async () => {
      const c = open(port);
      await c.ready;
      // 50 MB announced, one KiB sent: the answer comes at once, and the connection does not wait for the rest.
      c.socket.write(
        `POST /loads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n${' '.repeat(1024)}`,
      );
      expect(await until(c.closed, 10_000), 'the server closed the connection').to.equal(true);
      const a = parse(c.received());
      expectProblem(a, 401, 'unauthorized');
      expect(a.headers.connection).to.equal('close');
    });

    it('refuses deep and sprawling JSON before parsing it, even with an Idempotency-Key (never a 500)', async () => {
      const driver = await h.member('carrier', ['driver']);
      const before = await head();
      const deep = await post('/loads')
        .set('Idempotency-Key', randomUUID())
        .set('Content-Type', 'application/json')
        .send('['.repeat(5000) + ']'.repeat(5000))
        .expect(400);
      expect(deep.body.type).to.equal('urn:freight:problem:body-too-deep');
      // 200,000 levels inside the pings, under the ping route's 512 KiB.
      const pings = `{"pings":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}`;
      const nested = await post('/tracking/pings', driver.auth)
        .set('Idempotency-Key', randomUUID())
        .set('Content-Type', 'application/json')
        .send(pings)
        .expect(400);
      expect(nested.body.type).to.equal('urn:freight:problem:body-too-deep');
      const wide = `{"a":[${Array.from({ length: 25_000 }, () => 0).join(',')}]}`;
      const many = await post('/loads').set('Content-Type', 'application/json').send(wide).expect(400);
      expect(many.body.type).to.equal('urn:freight:problem:body-too-many-items');
      expect(await head()).to.equal(before);
    });

    it('refuses bytes that are not UTF-8, text that is not JSON, and JSON in another charset', async () => {
      const bad = Buffer.concat([Buffer.from('{"shipperOrgId":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
      const res = await raw(
        port,
        Buffer.concat([
          Buffer.from(
            `POST /loads HTTP/1.1\r\nHost: x\r\nAuthorization: ${shipper.auth}\r\nContent-Type: application/json\r\nContent-Length: ${bad.length}\r\nConnection: close\r\n\r\n`,
          ),
          bad,
        ]),
      );
      expectProblem(res, 400, 'malformed-body');
      expect(JSON.parse(res.body).detail).to.equal('The body is not valid UTF-8');
      await post('/loads').set('Content-Type', 'application/json').send('{"a":').expect(400);
      await post('/loads').set('Content-Type', 'application/json; charset=latin1').send('{}').expect(415);
    });

    it('refuses text Postgres cannot store, naming where it is, in bodies and queries', async () => {
      const before = await head();
      const nul = await post('/loads')
        .send(loadBody(shipper.orgId, { commodity: 'rebar\u0000' }))
        .expect(400);
      expect(nul.body).to.include({ type: 'urn:freight:problem:unstorable-text', field: 'body.commodity' });
      const surrogate = await post('/loads')
        .set('Content-Type', 'application/json')
        .send('{"commodity":"\\ud800"}')
        .expect(400);
      expect(surrogate.body.field).to.equal('body.commodity');
      const key = await post('/loads').set('Content-Type', 'application/json').send('{"a\\u0000b":1}').expect(400);
      expect(key.body.type).to.equal('urn:freight:problem:unstorable-text');
      for (const [path, field] of [
        ['/carriers?name=%00', 'query.name'],
        ['/search/loads?q=%00', 'query.q'],
        ['/search/loads?q=steel&originStates=%00', 'query.originStates'],
        ['/loads?cursor=a%00b', 'query.cursor'],
      ] as const) {
        const res = await h.http().get(path).set('Authorization', shipper.auth).expect(400);
        expect(res.body, path).to.include({ type: 'urn:freight:problem:unstorable-text', field });
      }
      expect(await head()).to.equal(before);
    });
  });

  describe('what the fuzz suite and an outside attacker found, each answered as a problem below 500', () => {
    it('searches with the review flag (the search index has none: the board applies it)', async () => {
      const res = await h.http().get('/search/loads?q=rebar&flagged=false').set('Authorization', h.admin).expect(200);
      expect(res.body.items).to.be.an('array');
    });

    it('refuses coordinates so small that Postgres trigonometry underflows, in bodies and queries', async () => {
      const before = await head();
      const origin = { ...loadBody(shipper.orgId).origin, lat: 5e-324 };
      const res = await h
        .http()
        .post('/loads')
        .set('Authorization', shipper.auth)
        .send(loadBody(shipper.orgId, { origin }))
        .expect(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('origin.lat');
      await h
        .http()
        .get('/loads?originLat=5e-324&originLng=0&originRadiusMi=10')
        .set('Authorization', shipper.auth)
        .expect(400);
      await h
        .http()
        .get('/search/loads?q=steel&originLat=0&originLng=-5e-324&originRadiusMi=10')
        .set('Authorization', shipper.auth)
        .expect(400);
      // Zero itself, the equator and the meridian, is a place.
      await h
        .http()
        .get('/loads?originLat=0&originLng=0&originRadiusMi=10')
        .set('Authorization', shipper.auth)
        .expect(200);
      expect(await head()).to.equal(before);
    });

    it('answers uncompressed when the client refuses every encoding, identity included', async () => {
      for (let i = 0; i < 12; i++)
        await h.http().post('/loads').set('Authorization', shipper.auth).send(loadBody(shipper.orgId)).expect(201);
      await h.settle();
      const res = await h
        .http()
        .get('/loads?limit=12')
        .set('Authorization', shipper.auth)
        .set('Accept-Encoding', 'identity;q=0')
        .expect(200);
      expect(res.headers['content-encoding']).to.equal(undefined);
      expect(res.body.items.length).to.be.greaterThan(5);
    });

    it('answers methods a path does not take, known or not, with 405 and Allow', async () => {
      for (const method of ['TRACE', 'PURGE', 'PUT']) {
        const a = await raw(
          port,
          `${method} /loads HTTP/1.1\r\nHost: x\r\nAuthorization: ${shipper.auth}\r\nConnection: close\r\n\r\n`,
        );
        expectProblem(a, 405, 'method-not-allowed');
        expect(a.headers.allow, method).to.match(/GET/);
      }
    });

    it('answers a request without Host, or with an Expect it does not know, as a problem', async () => {
      expectProblem(
        await raw(port, `GET /loads HTTP/1.1\r\nAuthorization: ${shipper.auth}\r\nConnection: close\r\n\r\n`),
        400,
        'missing-host',
      );
      expectProblem(
        await raw(port, `GET /loads HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\nConnection: close\r\n\r\n`),
        417,
        'expectation-failed',
      );
    });

    it('answers an Upgrade to anything but Socket.IO, and CONNECT, as problems instead of dropping them', async () => {
      expectProblem(
        await raw(port, `GET /loads HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`),
        400,
        'upgrade-not-supported',
      );
      expectProblem(
        await raw(
          port,
          `GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`,
        ),
        400,
        'upgrade-not-supported',
      );
      expectProblem(
        await raw(port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'),
        405,
        'method-not-allowed',
      );
    });

    it('says "100 Continue" only once the caller may send its body', async () => {
      const body = JSON.stringify(loadBody(shipper.orgId));
      const anonymous = await raw(
        port,
        `POST /loads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      expectProblem(anonymous, 401, 'unauthorized');
      const c = open(port);
      await c.ready;
      c.socket.write(
        `POST /loads HTTP/1.1\r\nHost: x\r\nAuthorization: ${shipper.auth}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      expect(await until(() => c.received().startsWith('HTTP/1.1 100 Continue'), 10_000), 'the go-ahead').to.equal(
        true,
      );
      c.socket.write(body);
      expect(await until(c.closed, 10_000)).to.equal(true);
      expect(parse(c.received().slice(c.received().indexOf('\r\n\r\n') + 4)).status).to.equal(201);
    });

    it('refuses an empty Idempotency-Key rather than running the command without one', async () => {
      const res = await h
        .http()
        .post('/loads')
        .set('Authorization', shipper.auth)
        .set('Idempotency-Key', '')
        .send(loadBody(shipper.orgId))
        .expect(400);
      expect(res.body.type).to.equal('urn:freight:problem:bad-idempotency-key');
    });

    it("does not register the platform operator's own organisation as a customer", async () => {
      const res = await h
        .http()
        .post('/orgs')
        .set('Authorization', h.admin)
        .send({ orgId: h.platformOrgId, name: 'Platform', kind: 'shipper' })
        .expect(422);
      expect(res.body.type).to.equal('urn:freight:problem:reserved-org-id');
    });
  });

  describe('commands that take no body', () => {
    let loadId: string;
    before(async () => {
      loadId = (
        await h.http().post('/loads').set('Authorization', shipper.auth).send(loadBody(shipper.orgId)).expect(201)
      ).body.loadId;
    });

    it('refuse any body but none or {}, and change nothing', async () => {
      const before = await head();
      const expire = () => h.http().post(`/loads/${loadId}/expire`).set('Authorization', h.admin);
      expect((await expire().type('form').send('a=1&b=2').expect(415)).body.type).to.equal(
        'urn:freight:problem:unsupported-media-type',
      );
      expect((await expire().set('Content-Type', 'text/plain').send('hello').expect(415)).body.type).to.equal(
        'urn:freight:problem:unsupported-media-type',
      );
      for (const body of [
        '[]',
        'null',
        '1',
        '"x"',
        '{"a":1}',
        JSON.stringify(Array.from({ length: 6000 }, () => [[]])),
      ]) {
        const res = await expire().set('Content-Type', 'application/json').send(body).expect(400);
        expect(res.body.type, body.slice(0, 20)).to.be.oneOf([
          'urn:freight:problem:unexpected-body',
          'urn:freight:problem:body-too-many-items',
        ]);
      }
      const notUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);
      const head8 = `POST /loads/${loadId}/expire HTTP/1.1\r\nHost: x\r\nAuthorization: ${h.admin}\r\nContent-Type: application/json\r\nContent-Length: 3\r\nConnection: close\r\n\r\n`;
      expectProblem(await raw(port, Buffer.concat([Buffer.from(head8), notUtf8])), 400, 'malformed-body');
      expect(await head()).to.equal(before);
      // None, or {}: the command runs (and its rule answers: the posting is not due).
      expect((await expire().expect(422)).body.type).to.equal('urn:freight:problem:not-due');
      expect((await expire().set('Content-Type', 'application/json').send('{}').expect(422)).body.type).to.equal(
        'urn:freight:problem:not-due',
      );
    });
  });
});
