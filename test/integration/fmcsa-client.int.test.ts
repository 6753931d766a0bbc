import { expect } from 'chai';
import { verificationGaps } from '../../src/domain/carrier/decider.js';
import { createRedis, type Redis } from '../../src/infra/redis.js';
import {
  FmcsaCircuitOpen,
  FmcsaClient,
  type FmcsaClientOptions,
  FmcsaRejected,
  FmcsaUnavailable,
} from '../../src/integrations/fmcsa/client.js';
import { checkCarrier } from '../../src/integrations/fmcsa/verify.js';
import { FakeFmcsa } from '../fakes/fmcsa.js';
import { testServices, uniquePrefix } from '../support/services.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const DAY = 86_400_000;

describe('Checking a carrier against the FMCSA register (fake QCMobile server)', () => {
  const fake = new FakeFmcsa();
  let baseUrl: string;
  let redis: Redis;

  before(async () => {
    baseUrl = await fake.start();
    redis = createRedis((await testServices()).redisUrl, `${uniquePrefix('fmcsa')}:`);
    fake.add(
      { dotNumber: '1000001', legalName: 'GOOD HAULERS LLC', mcNumbers: ['100001'] },
      { dotNumber: '1000002', legalName: 'ODD SPELLING INC', mcNumbers: ['100002'], oddSpelling: true },
      { dotNumber: '1000003', legalName: 'GROUNDED TRUCKING', mcNumbers: ['100003'], outOfService: true },
      { dotNumber: '1000004', legalName: 'UNINSURED CARTAGE', mcNumbers: ['100004'], bipdThousands: 0 },
      { dotNumber: '1000005', legalName: 'LAPSED AUTHORITY CO', mcNumbers: ['100005'], commonAuthority: 'I' },
      { dotNumber: '1000006', legalName: 'OTHER ENTITY LLC', mcNumbers: ['100006'] },
      {
        dotNumber: '1000007',
        legalName: 'THIN COVER LLC',
        mcNumbers: ['100007'],
        bipdThousands: 500,
        bipdRequiredThousands: 750,
      },
    );
  });
  after(async () => {
    await fake.stop();
    redis.disconnect();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.maintenance = 0;
    fake.failures = 0;
    fake.delayMs = 0;
  });

  const client = (o: Partial<FmcsaClientOptions> = {}) =>
    new FmcsaClient({
      baseUrl,
      webKey: fake.webKey,
      timeoutMs: 1_000,
      attempts: 3,
      retryInitialDelayMs: 5,
      breakerFailures: 5,
      breakerOpenMs: 300,
      ...o,
    });
  const check = (c: FmcsaClient, usdotNumber: string, mcNumber?: string) =>
    checkCarrier(c, { usdotNumber, ...(mcNumber ? { mcNumber } : {}) }, NOW, 2 * DAY);

  it('finds an authorized, insured carrier whose numbers match: no gaps', async () => {
    const v = await check(client(), '1000001', 'MC-100001');
    expect(v).to.deep.include({
      allowedToOperate: true,
      outOfService: false,
      authorityStatus: 'active',
      dotFound: true,
      mcMatchesDot: true,
      registeredName: 'GOOD HAULERS LLC',
    });
    expect(v.insurance).to.deep.equal({
      onFile: true,
      bipdCoverageCents: 100_000_000,
      cargoCoverageCents: 10_000_000,
      bipdRequiredCents: 75_000_000,
      expiresAt: new Date(NOW.getTime() + 2 * DAY),
    });
    expect(verificationGaps(v)).to.deep.equal([]);
    expect(fake.requests.map((r) => r.path).sort()).to.deep.equal([
      '/qc/services/carriers/1000001',
      '/qc/services/carriers/1000001/authority',
      '/qc/services/carriers/1000001/oos',
      '/qc/services/carriers/docket-number/100001',
    ]);
  });

  it('reads allowToOperate as well as allowedToOperate', async () => {
    const v = await check(client(), '1000002', '100002');
    expect(v.allowedToOperate).to.equal(true);
    expect(verificationGaps(v)).to.deep.equal([]);
  });

  it('sees an out-of-service order', async () => {
    const v = await check(client(), '1000003', '100003');
    expect(v.outOfService).to.equal(true);
    expect(verificationGaps(v)).to.include.members(['out of service', 'not allowed to operate']);
  });

  it('sees that no liability insurance is on file, or too little', async () => {
    expect(verificationGaps(await check(client(), '1000004', '100004'))).to.deep.equal(['no insurance on file']);
    expect(verificationGaps(await check(client(), '1000007', '100007'))).to.deep.equal([
      'liability insurance below the required amount',
    ]);
  });

  it('sees inactive operating authority', async () => {
    const v = await check(client(), '1000005', '100005');
    expect(v.authorityStatus).to.equal('inactive');
    expect(verificationGaps(v)).to.deep.equal(['operating authority inactive']);
  });

  it('refuses a USDOT number whose MC number is filed under another entity', async () => {
    const v = await check(client(), '1000001', 'MC-100006');
    expect(v.mcMatchesDot).to.equal(false);
    expect(verificationGaps(v)).to.deep.equal(['USDOT and MC numbers belong to different entities']);
  });

  it('reports a USDOT number the register does not hold', async () => {
    const v = await check(client(), '9999999');
    expect(v.dotFound).to.equal(false);
    expect(verificationGaps(v)).to.include('USDOT number not in the FMCSA register');
  });

  it('treats an HTML maintenance page as unavailable, retries, and succeeds when it passes', async () => {
    fake.maintenance = 2;
    const c = client();
    expect((await c.carrier('1000001'))?.legalName).to.equal('GOOD HAULERS LLC');
    expect(fake.count(/carriers\/1000001$/)).to.equal(3);
    fake.maintenance = Infinity;
    const err = await c.carrier('1000001').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FmcsaUnavailable);
    expect((err as Error).message).to.match(/HTML page.*maintenance/);
  });

  it('opens the circuit after a burst of 5xx, sends nothing while open, and recovers', async () => {
    const c = client({ attempts: 1, breakerFailures: 3, breakerOpenMs: 300 });
    fake.failures = 3;
    for (let i = 0; i < 3; i++)
      expect(await c.carrier('1000001').catch((e: unknown) => e)).to.be.instanceOf(FmcsaUnavailable);
    expect(c.circuit).to.equal('open');
    const sent = fake.requests.length;
    const open = await c.carrier('1000001').catch((e: unknown) => e);
    expect(open).to.be.instanceOf(FmcsaCircuitOpen);
    expect((open as FmcsaCircuitOpen).retryInMs).to.be.within(1, 300);
    expect(fake.requests.length).to.equal(sent);
    await new Promise((r) => setTimeout(r, 320));
    expect((await c.carrier('1000001'))?.dotNumber).to.equal('1000001');
    expect(c.circuit).to.equal('closed');
  });

  it('gives up on a slow answer at the timeout', async () => {
    // Far slower than the timeout: an answer before it (a refusal naming the timeout) means the client gave up.
    fake.delayMs = 5_000;
    const err = await client({ timeoutMs: 100, attempts: 2 })
      .carrier('1000001')
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FmcsaUnavailable);
    expect((err as Error).message).to.match(/within 100 ms/);
    expect(fake.count(/carriers\/1000001$/)).to.equal(2);
  });

  it('does not retry a refused webKey', async () => {
    const err = await client({ webKey: 'wrong' })
      .carrier('1000001')
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FmcsaRejected);
    expect(fake.requests).to.have.length(1);
  });

  it('answers a recent question from the cache', async () => {
    const c = client({ cache: { redis, seconds: 60 } });
    await check(c, '1000001', '100001');
    const first = fake.requests.length;
    const again = await check(c, '1000001', '100001');
    expect(fake.requests.length).to.equal(first);
    expect(again.registeredName).to.equal('GOOD HAULERS LLC');
  });
});
