import { expect } from 'chai';
import { FMCSA_ACTOR } from '../../src/jobs/processors/verification.js';
import { QUEUES } from '../../src/jobs/queues.js';
import { verificationRequests } from '../../src/reactors/jobs.js';
import { FakeFmcsa } from '../fakes/fmcsa.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { carrierBody, loadBody } from '../support/loads.js';

describe('Verifying carriers against FMCSA in the job queue', () => {
  const fake = new FakeFmcsa();
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let carrierOrg: { orgId: string; userId: string; auth: string };
  let dot = 2_000_000;

  before(async () => {
    const url = await fake.start();
    h = await apiHarness(
      'verification',
      {
        FMCSA_BREAKER_FAILURES: '3',
        FMCSA_BREAKER_OPEN_MS: '1500',
        FMCSA_ATTEMPTS: '1',
        FMCSA_CACHE_SECONDS: '0',
        JOB_BACKOFF_MS: '50',
      },
      { fmcsaUrl: url },
    );
    shipper = await h.member('shipper', ['shipper']);
    carrierOrg = await h.member('carrier', ['carrier']);
  });
  after(async () => {
    await h.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.failures = 0;
    fake.maintenance = 0;
    fake.webKey = 'test-web-key';
  });

  const post = (auth: string, path: string, body?: object) => {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  };
  /** A carrier on the fake register, registered through the API. */
  async function register(on: Partial<Parameters<FakeFmcsa['add']>[0]> = {}, mcNumber?: string) {
    const usdotNumber = String(++dot);
    const mc = String(500_000 + dot - 2_000_000);
    fake.add({ dotNumber: usdotNumber, legalName: `CARRIER ${usdotNumber} LLC`, mcNumbers: [mc], ...on });
    const res = await post(
      carrierOrg.auth,
      '/carriers',
      carrierBody(carrierOrg.orgId, { usdotNumber, mcNumber: mcNumber ?? `MC-${mc}` }),
    ).expect(201);
    return res.body.carrierId as string;
  }
  const verifications = async (carrierId: string) =>
    (await h.store.readStream(`carrier-${carrierId}`)).filter((e) => e.type === 'CarrierVerificationRecorded');
  const directory = async (carrierId: string) =>
    (await h.http().get(`/carriers/${carrierId}`).set('Authorization', h.admin).expect(200)).body;

  it('checks a newly registered carrier and records the result on its stream, caused by the registration', async () => {
    const carrierId = await register();
    await h.settle();
    const [v] = await verifications(carrierId);
    expect(v, 'a verification was recorded').to.not.equal(undefined);
    expect(v!.data).to.deep.include({ verified: true, source: 'fmcsa', reasons: [], mcMatchesDot: true });
    const registered = (await h.store.readStream(`carrier-${carrierId}`))[0]!;
    expect(v!.metadata).to.include({
      actor: FMCSA_ACTOR,
      causationId: registered.id,
      correlationId: registered.metadata.correlationId,
    });
    expect((await directory(carrierId)).verification).to.include({ verified: true, eligible: true });
    // Verified by the register, it may book.
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
  });

  it('refuses a carrier whose MC number is filed under another USDOT number, and tells its office', async () => {
    const other = String(++dot);
    fake.add({ dotNumber: other, legalName: 'THE REAL OWNER LLC', mcNumbers: ['777001'] });
    const carrierId = await register({}, 'MC-777001');
    await h.settle();
    const [v] = await verifications(carrierId);
    expect(v!.data).to.deep.include({
      verified: false,
      mcMatchesDot: false,
      reasons: ['USDOT and MC numbers belong to different entities'],
    });
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    const refused = await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(422);
    expect(refused.body.detail).to.match(/not verified/);
    const told = h.sent.filter((s) => s.message.subject.includes('could not be verified'));
    expect(told.map((s) => s.message.body).join()).to.include('USDOT and MC numbers belong to different entities');
  });

  it('refuses a carrier whose authority is inactive', async () => {
    const carrierId = await register({ commonAuthority: 'I' });
    await h.settle();
    expect((await verifications(carrierId))[0]!.data).to.deep.include({ verified: false, authorityStatus: 'inactive' });
    expect((await directory(carrierId)).verification.gaps).to.deep.equal(['operating authority inactive']);
  });

  it('checks again when the MC number changes, and is unverified until then', async () => {
    const carrierId = await register();
    await h.settle();
    fake.carriers.get(String(dot))!.mcNumbers!.push('888002');
    await post(carrierOrg.auth, `/carriers/${carrierId}/mc-number`, { mcNumber: 'MC-888002' }).expect(202);
    await h.settle();
    const all = await verifications(carrierId);
    expect(all).to.have.length(2);
    expect(all[1]!.data).to.deep.include({
      verified: true,
      checked: { usdotNumber: String(dot), mcNumber: 'MC-888002' },
    });
    expect((await directory(carrierId)).mcNumber).to.equal('MC-888002');
  });

  it('adds no job twice when a reactor batch is replayed (job ids come from event ids)', async () => {
    const carrierId = await register();
    await h.settle();
    const events = await h.store.readStream(`carrier-${carrierId}`);
    const reactor = verificationRequests(h.queues);
    await reactor.apply(
      events.filter((e) => e.type === 'CarrierRegistered'),
      1,
    );
    await reactor.apply(
      events.filter((e) => e.type === 'CarrierRegistered'),
      1,
    );
    await h.settle();
    expect(await verifications(carrierId)).to.have.length(1);
    const counts = await h.queues.queue(QUEUES.verification).getJobCounts('waiting', 'prioritized', 'active');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal(0);
  });

  it('keeps verifications waiting while the circuit is open, sends nothing, and completes them once FMCSA recovers', async () => {
    fake.failures = 3;
    const first = await register();
    // Three 503s in a row open the circuit; the job is retried later instead of failing for good.
    expect(await until(() => fake.failures === 0, 5_000)).to.equal(true);
    const second = await register();
    const sentWhileOpen = fake.requests.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.requests.length, 'nothing is sent while the circuit is open').to.equal(sentWhileOpen);
    await h.settle();
    for (const carrierId of [first, second])
      expect((await verifications(carrierId))[0]?.data).to.deep.include({ verified: true });
    expect((await h.queues.queue(QUEUES.verification).getJobCounts('failed')).failed).to.equal(0);
  });

  it('sends a job FMCSA refuses (a bad webKey) to the dead letter; an admin lists it and retries it over HTTP', async () => {
    fake.webKey = 'rotated';
    const carrierId = await register();
    expect(
      await until(async () => (await h.queues.queue(QUEUES.verification).getJobCounts('failed')).failed === 1, 5_000),
    ).to.equal(true);
    const list = await h
      .http()
      .get('/admin/jobs/carrier-verification/failed')
      .set('Authorization', h.admin)
      .expect(200);
    expect(list.body.total).to.equal(1);
    const [job] = list.body.jobs;
    expect(job.data.carrierId).to.equal(carrierId);
    expect(job.failedReason).to.match(/FMCSA refused/);
    await h.http().get('/admin/jobs/carrier-verification/failed').set('Authorization', carrierOrg.auth).expect(403);
    fake.webKey = 'test-web-key';
    const retried = await post(h.admin, `/admin/jobs/carrier-verification/${job.id}/retry`).expect(202);
    expect(retried.body.id).to.equal(job.id);
    await h.settle();
    expect((await verifications(carrierId))[0]?.data).to.deep.include({ verified: true });
    await post(h.admin, `/admin/jobs/carrier-verification/${job.id}/retry`).expect(409);
    const counts = await h.http().get('/admin/jobs').set('Authorization', h.admin).expect(200);
    expect(counts.body['carrier-verification']).to.include({ failed: 0 });
  });

  it('lets an admin ask for a check now', async () => {
    const carrierId = await register();
    await h.settle();
    const res = await post(h.admin, `/carriers/${carrierId}/verification-requests`).expect(202);
    expect(res.body.queue).to.equal('carrier-verification');
    await h.settle();
    expect(await verifications(carrierId)).to.have.length(2);
    await post(h.admin, '/carriers/7d0c1c1e-0000-4000-8000-000000000000/verification-requests').expect(404);
  });

  it('counts jobs in the metrics', async () => {
    const text = await h.metrics.text();
    expect(text).to.match(/jobs_completed_total\{queue="carrier-verification"\} [1-9]/);
    expect(text).to.match(/job_duration_seconds_count\{queue="carrier-verification"\} [1-9]/);
  });
});
