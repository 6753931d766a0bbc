import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startTracing } from '../../src/infra/tracing.js';
import { FakeFmcsa } from '../fakes/fmcsa.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { carrierBody, loadBody } from '../support/loads.js';

/** A carrier on the fake register, registered through the API; answers the response. */
async function register(
  h: ApiHarness,
  fake: FakeFmcsa,
  org: { orgId: string; auth: string },
  dot: number,
  headers: Record<string, string> = {},
) {
  const usdotNumber = String(dot);
  const mc = String(600_000 + dot);
  fake.add({ dotNumber: usdotNumber, legalName: `CARRIER ${usdotNumber} LLC`, mcNumbers: [mc] });
  const r = h.http().post('/carriers').set('Authorization', org.auth);
  for (const [k, v] of Object.entries(headers)) r.set(k, v);
  return r.send(carrierBody(org.orgId, { usdotNumber, mcNumber: `MC-${mc}` })).expect(201);
}

describe('Tracing (OpenTelemetry)', () => {
  const fake = new FakeFmcsa();
  let fmcsaUrl: string;
  before(async () => {
    fmcsaUrl = await fake.start();
  });
  after(() => fake.stop());

  it('is off by default: no trace header, no traceparent in event metadata', async () => {
    const h = await apiHarness('tracing-off', { FMCSA_CACHE_SECONDS: '0' }, { fmcsaUrl });
    try {
      const org = await h.member('carrier', ['carrier']);
      const res = await register(h, fake, org, 3_100_001, {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      expect(res.headers['x-trace-id']).to.equal(undefined);
      await h.settle();
      const events = await h.store.readStream(`carrier-${res.body.carrierId}`);
      expect(events.map((e) => e.type)).to.include('CarrierVerificationRecorded');
      for (const e of events) expect(e.metadata).to.not.have.property('traceparent');
    } finally {
      await h.close();
    }
  });

  describe('when on', () => {
    const exporter = new InMemorySpanExporter();
    let tracing: { shutdown(): Promise<void> };
    let h: ApiHarness;
    let org: { orgId: string; userId: string; auth: string };
    before(async () => {
      tracing = startTracing({ serviceName: 'freight-test', exporter });
      h = await apiHarness('tracing-on', { FMCSA_CACHE_SECONDS: '0' }, { fmcsaUrl });
      org = await h.member('carrier', ['carrier']);
    });
    after(async () => {
      await h?.close();
      await tracing?.shutdown();
    });

    const inTrace = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const one = (spans: ReadableSpan[], name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found, `one span named ${name} among ${spans.map((s) => s.name).join(', ')}`).to.have.length(1);
      return found[0]!;
    };

    it('follows a command from its request through the append, the projectors and the job it causes, into the job’s own events', async () => {
      exporter.reset();
      const res = await register(h, fake, org, 3_100_002);
      const traceId = res.headers['x-trace-id'] as string;
      expect(traceId).to.match(/^[0-9a-f]{32}$/);
      await h.settle();
      const carrierId = res.body.carrierId as string;
      // The job's appended verification is projected into the directory under the job's span.
      const both = await until(
        () => inTrace(traceId).filter((s) => s.name === 'project carrier_directory').length >= 2,
      );
      expect(both, 'the verification projected in the same trace').to.equal(true);
      const spans = inTrace(traceId);

      const http = one(spans, 'POST /carriers');
      expect(http.attributes).to.include({
        'http.route': '/carriers',
        'http.response.status_code': 201,
        'enduser.id': org.userId,
        'freight.org_id': org.orgId,
      });
      expect(parentOf(http), 'the request starts the trace').to.equal(undefined);

      const command = one(spans, 'handle RegisterCarrier');
      expect(parentOf(command)).to.equal(http.spanContext().spanId);
      expect(command.attributes).to.include({
        'freight.stream': `carrier-${carrierId}`,
        'freight.events': 'CarrierRegistered',
      });
      const appends = spans.filter((s) => s.name === 'eventstore.append');
      expect(appends.map(parentOf)).to.include(command.spanContext().spanId);

      // The stored event names the command's span: that is how the trace crosses the log.
      const [registered, recorded] = await h.store.readStream(`carrier-${carrierId}`);
      expect(registered!.metadata.traceparent).to.equal(`00-${traceId}-${command.spanContext().spanId}-01`);

      const projected = spans.filter(
        (s) => s.name === 'project carrier_directory' && parentOf(s) === command.spanContext().spanId,
      );
      expect(projected, 'the directory projector applied the registration in this trace').to.have.length(1);
      expect(projected[0]!.attributes).to.include({
        'freight.projector': 'carrier_directory',
        'freight.event_types': 'CarrierRegistered',
      });
      const reactor = one(spans, 'project verification_requests');
      expect(parentOf(reactor)).to.equal(command.spanContext().spanId);

      const job = one(spans, 'job carrier-verification registered');
      expect(parentOf(job), 'the job continues from the event that caused it').to.equal(command.spanContext().spanId);
      const fmcsaCalls = spans.filter((s) => s.name.startsWith('fmcsa GET'));
      expect(fmcsaCalls.length).to.be.greaterThan(0);
      for (const c of fmcsaCalls) {
        expect(parentOf(c)).to.equal(job.spanContext().spanId);
        expect(JSON.stringify(c.attributes), 'no web key on spans').to.not.include('test-web-key');
      }
      const verification = spans.find((s) => s.name.startsWith('handle ') && parentOf(s) === job.spanContext().spanId);
      expect(verification, 'the job’s command').to.not.equal(undefined);
      expect(recorded!.type).to.equal('CarrierVerificationRecorded');
      expect(recorded!.metadata.traceparent).to.equal(`00-${traceId}-${verification!.spanContext().spanId}-01`);
      const projectedAgain = spans.filter(
        (s) => s.name === 'project carrier_directory' && parentOf(s) === verification!.spanContext().spanId,
      );
      expect(projectedAgain).to.have.length(1);
      // Every span of the story ended (exported), and none reports an error.
      expect(spans.filter((s) => s.status.code === 2)).to.deep.equal([]);
    });

    it('continues a caller’s trace given as a W3C traceparent header', async () => {
      exporter.reset();
      const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '00f067aa0ba902b7';
      const res = await register(h, fake, org, 3_100_003, { traceparent: `00-${callerTrace}-${callerSpan}-01` });
      expect(res.headers['x-trace-id']).to.equal(callerTrace);
      const http = one(inTrace(callerTrace), 'POST /carriers');
      expect(parentOf(http)).to.equal(callerSpan);
      await h.settle();
    });

    it('records a refused request’s status without marking its span an error', async () => {
      exporter.reset();
      const refused = await h
        .http()
        .post('/carriers')
        .set('Authorization', org.auth)
        .send({ nonsense: true })
        .expect(400);
      const span = one(inTrace(refused.headers['x-trace-id'] as string), 'POST /carriers');
      expect(span.attributes['http.response.status_code']).to.equal(400);
      expect(span.status.code).to.not.equal(2);
    });

    it('traces GPS pings from the request into the tracking projections', async () => {
      const driver = await h.member('carrier', ['carrier', 'driver']);
      const shipper = await h.member('shipper', ['shipper']);
      const carrierId = (await register(h, fake, driver, 3_100_004)).body.carrierId as string;
      await h.settle();
      const loadId = (
        await h.http().post('/loads').set('Authorization', shipper.auth).send(loadBody(shipper.orgId)).expect(201)
      ).body.loadId as string;
      await h.http().post(`/loads/${loadId}/book`).set('Authorization', driver.auth).send({ carrierId }).expect(202);
      await h
        .http()
        .post(`/loads/${loadId}/assignment`)
        .set('Authorization', driver.auth)
        .send({ driverId: driver.userId, truckId: 'TRK-9' })
        .expect(202);
      await h.settle();
      exporter.reset();
      const ping = {
        id: randomUUID(),
        lat: 29.9,
        lng: -95.4,
        speedMph: 55,
        headingDeg: 90,
        accuracyM: 8,
        recordedAt: new Date(Date.now() - 60_000).toISOString(),
      };
      const res = await h
        .http()
        .post('/tracking/pings')
        .set('Authorization', driver.auth)
        .send({ pings: [ping] })
        .expect(202);
      const traceId = res.headers['x-trace-id'] as string;
      await h.settle();
      const spans = inTrace(traceId);
      const http = one(spans, 'POST /tracking/pings');
      const [stored] = (await h.store.readStream(`tracking-${loadId}`)).slice(-1);
      expect(stored!.metadata.traceparent).to.equal(`00-${traceId}-${http.spanContext().spanId}-01`);
      const projected = spans
        .filter((s) => s.name.startsWith('project ') && parentOf(s) === http.spanContext().spanId)
        .map((s) => s.attributes['freight.projector']);
      expect(projected, 'the latest-location projector applied the ping in this trace').to.include('tracking_latest');
    });
  });
});
