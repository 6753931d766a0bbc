import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { mintToken } from '../../src/auth/tokens.js';
import { DEV_JWT_SECRET, loadConfig } from '../../src/infra/config.js';
import { until } from '../support/async.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';
import { spawnCli, type Spawned } from '../support/process.js';
import { freshDatabase, testServices } from '../support/services.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it), or CHROMIUM_PATH. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * UPDATE_SCREENSHOTS=1 writes the README's screenshots; otherwise they go to a temporary folder of
 * this run's own (a fixed one in /tmp belonged to whichever user ran the tests first).
 */
const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';
const SHOTS = UPDATE
  ? path.resolve(import.meta.dirname, '../../docs/screenshots')
  : mkdtempSync(path.join(os.tmpdir(), 'freight-dashboard-shots-'));

describe('The operations dashboard in a real browser', function () {
  this.timeout(180_000);
  let svc: Spawned | undefined;
  let browser: Browser | undefined;
  let base = '';
  const offsite: string[] = [];
  const config = loadConfig({ NODE_ENV: 'test' });
  const sign = (
    userId: string,
    orgId: string,
    roles: ('admin' | 'auditor' | 'shipper' | 'carrier' | 'dispatcher' | 'driver')[],
  ) =>
    mintToken(
      { secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
      { userId, orgId, roles },
    );
  const call = async (tok: string, p: string, body?: object) => {
    const res = await fetch(`${base}${p}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${tok}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, string>;
    if (res.status >= 300) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const ready = async () =>
    expect(
      await until(
        async () =>
          (
            (await (await fetch(`${base}/ready`)).json()) as { projections?: { eventsBehind: number }[] }
          ).projections?.every((x) => x.eventsBehind === 0) === true,
        30_000,
        100,
      ),
    ).to.equal(true);

  let admin: string, shipper: string, dispatcher: string, driver: string, auditor: string;
  let shipperOrg: string, carrierId: string, driverId: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
      this.skip();
    }
    mkdirSync(SHOTS, { recursive: true });
    const url = await freshDatabase('dashboard_e2e');
    const { redisUrl } = await testServices();
    svc = spawnCli('serve', [], {
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: `t:${randomUUID()}:`,
      REALTIME_LOCATION_INTERVAL_MS: '200',
    });
    base = `http://127.0.0.1:${((await svc.waitForLog('listening')) as { port: number }).port}`;
    expect(await until(async () => (await fetch(`${base}/ready`)).status === 200, 30_000, 100)).to.equal(true);

    admin = await sign(randomUUID(), config.PLATFORM_ORG_ID, ['admin']);
    auditor = await sign(randomUUID(), config.PLATFORM_ORG_ID, ['auditor']);
    shipperOrg = (await call(admin, '/orgs', { name: 'Gulf Coast Steel', kind: 'shipper' })).orgId!;
    const carrierOrg = (await call(admin, '/orgs', { name: 'Lone Star Haulers', kind: 'carrier' })).orgId!;
    const shipperUser = (
      await call(admin, `/orgs/${shipperOrg}/users`, { email: 'ship@steel.example', name: 'Sam', roles: ['shipper'] })
    ).userId!;
    const dispatcherUser = (
      await call(admin, `/orgs/${carrierOrg}/users`, {
        email: 'disp@haulers.example',
        name: 'Dee',
        roles: ['dispatcher'],
      })
    ).userId!;
    driverId = (
      await call(admin, `/orgs/${carrierOrg}/users`, { email: 'drive@haulers.example', name: 'Dru', roles: ['driver'] })
    ).userId!;
    shipper = await sign(shipperUser, shipperOrg, ['shipper']);
    dispatcher = await sign(dispatcherUser, carrierOrg, ['dispatcher']);
    driver = await sign(driverId, carrierOrg, ['driver']);
    await ready();
    carrierId = (await call(dispatcher, '/carriers', carrierBody(carrierOrg))).carrierId!;
    await call(admin, `/carriers/${carrierId}/verifications`, goodVerification());
    await ready();

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    if (!UPDATE) rmSync(SHOTS, { recursive: true, force: true });
    await browser?.close();
    if (svc && svc.child.exitCode === null) {
      svc.child.kill('SIGTERM');
      await svc.exited;
    }
  });

  async function signIn(token: string): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith(base.replace('http', 'ws')) && !r.url().startsWith('data:'))
        offsite.push(r.url());
    });
    await page.goto(`${base}/dashboard/`);
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('nav .connection[data-connected=true]');
    return page;
  }

  it('refuses a token the server does not accept, and signs in with one it does', async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/dashboard/`);
    const forged = (await sign(randomUUID(), shipperOrg, ['shipper'])).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    await page.fill('#token', forged);
    await page.click('button[type=submit]');
    expect(await page.textContent('[role=alert]', { timeout: 10_000 })).to.match(/token|signature|sign in/i);
    await page.fill('#token', 'not a token');
    await page.click('button[type=submit]');
    expect(await page.textContent('[role=alert]')).to.match(/not a token/);
    await page.close();
  });

  it('shows a load posted through the API on the live board without a reload, and takes it off when it is booked', async () => {
    const page = await signIn(dispatcher);
    await page.waitForSelector('table.loads');
    const loadId = (await call(shipper, '/loads', loadBody(shipperOrg, { commodity: 'Rebar, grade 60' }))).loadId!;
    const row = await page.waitForSelector(`tr[data-load="${loadId}"]`, { timeout: 15_000 });
    expect(await row.textContent())
      .to.contain('Houston, TX')
      .and.to.contain('Rebar, grade 60')
      .and.to.contain('$1,800.00');
    expect(await row.getAttribute('class')).to.contain('fresh');
    await page.screenshot({ path: path.join(SHOTS, 'board.png') });
    await call(dispatcher, `/loads/${loadId}/book`, { carrierId });
    await page.waitForSelector(`tr[data-load="${loadId}"]`, { state: 'detached', timeout: 15_000 });
    await page.close();
  });

  it("shows a load's timeline and its truck moving on the map as pings arrive", async () => {
    const loadId = (await call(shipper, '/loads', loadBody(shipperOrg))).loadId!;
    await call(dispatcher, `/loads/${loadId}/book`, { carrierId });
    await call(dispatcher, `/loads/${loadId}/assignment`, { driverId, truckId: 'T-42' });
    const page = await signIn(shipper);
    await page.goto(`${base}/dashboard/#/loads/${loadId}`);
    await page.waitForSelector('.timeline li[data-status=assigned]');
    expect(await page.$$eval('.timeline li', (lis) => lis.map((li) => li.getAttribute('data-status')))).to.deep.equal([
      'posted',
      'booked',
      'assigned',
    ]);
    expect(await page.$$eval('svg.map .states path', (ps) => ps.length)).to.be.greaterThan(48);
    await page.waitForSelector('.marker.origin:not([visibility])');

    const ping = (lat: number, lng: number, secondsAgo: number) => ({
      id: randomUUID(),
      lat,
      lng,
      speedMph: 55,
      headingDeg: 0,
      accuracyM: 5,
      recordedAt: new Date(Date.now() - secondsAgo * 1000).toISOString(),
    });
    await call(driver, '/tracking/pings', { loadId, pings: [ping(29.77, -95.37, 3)] });
    const truck = await page.waitForSelector('.marker.truck:not([visibility])', { timeout: 15_000 });
    const first = await truck.getAttribute('transform');
    // Read in the page, where there is a DOM.
    const positionIs = (lat: string) =>
      page.waitForFunction(
        (want) =>
          (
            globalThis as unknown as {
              document: { querySelector(s: string): { getAttribute(a: string): string | null } | null };
            }
          ).document
            .querySelector('.position')
            ?.getAttribute('data-lat') === want,
        lat,
        { timeout: 15_000 },
      );
    await positionIs('29.77');
    // Up the road toward Dallas: the marker moves and the track grows, live.
    await call(driver, '/tracking/pings', { loadId, pings: [ping(30.6, -95.9, 2), ping(31.5, -96.4, 1)] });
    await positionIs('31.5');
    expect(await truck.getAttribute('transform')).to.not.equal(first);
    expect(await page.getAttribute('svg.map .track', 'd')).to.match(/^M.+L/);
    await page.screenshot({ path: path.join(SHOTS, 'load.png') });

    // A status change arrives on the timeline too.
    await call(driver, `/loads/${loadId}/pickup`, {});
    await page.waitForSelector('.timeline li[data-status=picked_up]', { timeout: 15_000 });
    await page.close();
  });

  it('finds trucks near a point in the fleet view', async () => {
    const page = await signIn(dispatcher);
    await page.goto(`${base}/dashboard/#/fleet`);
    await page.selectOption('select[name=place]', 'Houston');
    await page.click('form.filters button');
    const item = await page.waitForSelector('.trucks li[data-load]', { timeout: 15_000 });
    expect(await item.textContent()).to.contain('T-42');
    await page.waitForSelector('.marker.truck');
    await page.screenshot({ path: path.join(SHOTS, 'fleet.png') });
    await page.close();
  });

  it("lists payments for auditors and shows one's history replayed from the log, its hash chain intact", async () => {
    const loadId = (await call(shipper, '/loads', loadBody(shipperOrg))).loadId!;
    await call(dispatcher, `/loads/${loadId}/book`, { carrierId });
    await call(dispatcher, `/loads/${loadId}/assignment`, { driverId, truckId: 'T-7' });
    await call(driver, `/loads/${loadId}/pickup`, {});
    await call(driver, `/loads/${loadId}/in-transit`, {});
    await call(driver, `/loads/${loadId}/delivery`, { signedBy: 'R. Foreman' });
    await ready();
    const page = await signIn(auditor);
    await page.goto(`${base}/dashboard/#/payments`);
    const row = await page.waitForSelector('tr[data-payment]', { timeout: 15_000 });
    await row.click();
    await page.waitForSelector('[data-chain=intact]');
    expect(await page.$$eval('table.events tbody tr', (rs) => rs.length)).to.be.at.least(1);
    expect(await page.textContent('table.events')).to.contain('InvoiceIssued');
    await page.screenshot({ path: path.join(SHOTS, 'payments.png') });
    // A carrier's token gets no payments tab, and the API refuses it the list.
    const carrierPage = await signIn(dispatcher);
    expect(await carrierPage.$$eval('nav a', (as) => as.map((a) => a.textContent))).to.not.include('Payments');
    await carrierPage.close();
    await page.close();
  });

  it('loaded nothing from any other origin (no CDN, no tile server)', () => {
    expect(offsite).to.deep.equal([]);
  });
});
