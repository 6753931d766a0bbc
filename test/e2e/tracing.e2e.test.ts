import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { mintToken } from '../../src/auth/tokens.js';
import { DEV_JWT_SECRET, loadConfig } from '../../src/infra/config.js';
import { spawnCli, type Spawned } from '../support/process.js';
import { freshDatabase, testServices } from '../support/services.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

/** Stands in for an OpenTelemetry collector: takes OTLP/HTTP JSON exports and keeps them. */
function collector(): Promise<{
  server: Server;
  url: string;
  exports: { path: string; apiKey: string | undefined; body: OtlpExport }[];
}> {
  const exports: { path: string; apiKey: string | undefined; body: OtlpExport }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.headers['content-type']?.includes('json'))
        exports.push({
          path: req.url ?? '',
          apiKey: req.headers['x-api-key'] as string | undefined,
          body: JSON.parse(body) as OtlpExport,
        });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports }),
    ),
  );
}

describe('Tracing exported over OTLP by the service', function () {
  this.timeout(90_000);
  let p: Spawned | undefined;
  let c: Awaited<ReturnType<typeof collector>>;
  before(async () => {
    c = await collector();
  });
  after(() => {
    if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    c.server.close();
  });

  it('sends a command’s spans, through its projection, to the configured collector and flushes them on SIGTERM', async () => {
    const url = await freshDatabase('tracing_e2e');
    const { redisUrl } = await testServices();
    p = spawnCli('serve', [], {
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: `t:${randomUUID()}:`,
      LOG_LEVEL: 'http',
      OTEL_EXPORTER_OTLP_ENDPOINT: c.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=collector-secret',
    });
    const { port } = (await p.waitForLog('listening')) as { port: number };
    for (let i = 0; i < 150 && (await fetch(`http://127.0.0.1:${port}/ready`)).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 100));
    const config = loadConfig({ NODE_ENV: 'test' });
    const admin = await mintToken(
      { secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
      { userId: randomUUID(), orgId: config.PLATFORM_ORG_ID, roles: ['admin'] },
    );
    const res = await fetch(`http://127.0.0.1:${port}/orgs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Traced Freight LLC', kind: 'shipper' }),
    });
    expect(res.status, await res.clone().text()).to.equal(201);
    const traceId = res.headers.get('x-trace-id')!;
    expect(traceId).to.match(/^[0-9a-f]{32}$/);
    const { orgId } = (await res.json()) as { orgId: string };
    // Read your write: once the organisation is readable, its projection span has ended.
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/orgs/${orgId}`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      if (r.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The request log line names the trace, so logs lead to traces.
    const logged = p
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'request' && l.route === '/orgs' && l.method === 'POST');
    expect(logged).to.include({ traceId });

    p.child.kill('SIGTERM');
    expect((await p.exited).code).to.equal(0);

    expect(c.exports.length, 'the collector received exports').to.be.greaterThan(0);
    expect(new Set(c.exports.map((e) => e.path))).to.deep.equal(new Set(['/v1/traces']));
    expect(new Set(c.exports.map((e) => e.apiKey)), 'OTEL_EXPORTER_OTLP_HEADERS sent').to.deep.equal(
      new Set(['collector-secret']),
    );
    const resources = c.exports.flatMap((e) => e.body.resourceSpans);
    const names = new Set(
      resources.flatMap((r) =>
        r.resource.attributes.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue),
      ),
    );
    expect([...names]).to.deep.equal(['freight-api-projector-worker']);
    const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).filter((s) => s.traceId === traceId);
    const byName = (n: string) => spans.filter((s) => s.name === n);
    const http = byName('POST /orgs')[0]!;
    expect(http, `spans: ${spans.map((s) => s.name).join(', ')}`).to.not.equal(undefined);
    const command =
      byName('handle RegisterOrganisation')[0] ??
      spans.find((s) => s.name.startsWith('handle ') && s.parentSpanId === http.spanId);
    expect(command?.parentSpanId).to.equal(http.spanId);
    expect(byName('eventstore.append').map((s) => s.parentSpanId)).to.include(command!.spanId);
    const projections = spans
      .filter((s) => s.name.startsWith('project ') && s.parentSpanId === command!.spanId)
      .map((s) => s.name);
    expect(projections).to.include('project organisations');
  });
});
