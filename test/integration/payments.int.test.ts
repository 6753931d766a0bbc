import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { auditPayment } from '../../src/application/audit.js';
import { PAYMENTS_SYSTEM, PaymentService } from '../../src/application/payments.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';
import { testServices } from '../support/services.js';
import { paymentIdForLoad } from '../../src/domain/payment/stream.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('Payments: invoicing on delivery, QuickPay, refunds, and the audit trail', () => {
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let carrierOrg: { orgId: string; userId: string; auth: string };
  let carrierId: string;
  let auditor: string;

  before(async () => {
    h = await apiHarness('payments');
    shipper = await h.member('shipper', ['shipper']);
    carrierOrg = await h.member('carrier', ['carrier', 'driver']);
    carrierId = (await post(carrierOrg.auth, '/carriers', carrierBody(carrierOrg.orgId)).expect(201)).body.carrierId;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    auditor = `Bearer ${await h.token({ userId: randomUUID(), orgId: h.platformOrgId, roles: ['auditor'] })}`;
  });
  after(() => h.close());

  function post(auth: string, p: string, body?: object) {
    const r = h.http().post(p).set('Authorization', auth);
    return body ? r.send(body) : r;
  }
  /** A load hauled and delivered through the API; answers its payment id once invoiced. */
  async function delivered(rateCents = 180_000) {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId, { rateCents })).expect(201)).body
      .loadId as string;
    await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/assignment`, { driverId: carrierOrg.userId, truckId: 'T-1' }).expect(
      202,
    );
    await post(carrierOrg.auth, `/loads/${loadId}/pickup`).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/delivery`, { signedBy: 'J. Doe' })
      .set('X-Correlation-Id', `corr-${loadId}`)
      .expect(202);
    await h.settle();
    return { loadId, paymentId: paymentIdForLoad(loadId) };
  }
  /** What the payment provider's job and webhook will do: charge the shipper. */
  async function charge(paymentId: string) {
    const chargeId = randomUUID();
    await new PaymentService(h.store).run(
      paymentId,
      { type: 'RequestCharge', data: { chargeId } },
      { actor: PAYMENTS_SYSTEM },
    );
    await new PaymentService(h.store).run(
      paymentId,
      { type: 'RecordChargeSucceeded', data: { chargeId, providerRef: `pi_${chargeId.slice(0, 8)}` } },
      { actor: PAYMENTS_SYSTEM },
    );
  }
  const audit = (paymentId: string, auth = auditor, query = '') =>
    h.http().get(`/audit/payments/${paymentId}${query}`).set('Authorization', auth);

  it('invoices a delivered load: the rate, less the platform fee, caused by the delivery', async () => {
    const { loadId, paymentId } = await delivered(180_000);
    const res = await audit(paymentId).expect(200);
    expect(res.body.ok).to.equal(true);
    const [invoice] = res.body.events;
    expect(invoice.type).to.equal('InvoiceIssued');
    expect(invoice.data).to.include({
      loadId,
      amountCents: 180_000,
      platformFeeCents: 9_000,
      carrierPayableCents: 171_000,
      termsDays: 30,
    });
    const deliveredEvent = (await h.store.readStream(`load-${loadId}`)).find((e) => e.type === 'LoadDelivered')!;
    expect(invoice).to.include({
      causationId: deliveredEvent.id,
      correlationId: `corr-${loadId}`,
      actor: 'system:payments',
    });
    expect(res.body.state).to.include({ stage: 'invoiced', amountCents: 180_000, reconciles: true });
  });

  it('lets the carrier take QuickPay once, and only the carrier', async () => {
    const { paymentId } = await delivered(100_000);
    await charge(paymentId);
    await post(shipper.auth, `/payments/${paymentId}/quickpay`).expect(403);
    const ok = await post(carrierOrg.auth, `/payments/${paymentId}/quickpay`).expect(202);
    expect(ok.body.events).to.deep.equal(['QuickPayRequested']);
    const twice = await post(carrierOrg.auth, `/payments/${paymentId}/quickpay`).expect(422);
    expect(twice.body.type).to.equal('urn:freight:problem:quickpay-twice');
    const state = (await audit(paymentId).expect(200)).body.state;
    // 3% of the 95,000 payable is 2,850: above the 2,500 minimum.
    expect(state).to.include({
      payoutTerms: 'quickpay',
      carrierPayableCents: 92_150,
      platformFeeCents: 7_850,
      reconciles: true,
    });
  });

  it('refunds at most what was charged, and not before a charge', async () => {
    const { paymentId } = await delivered(100_000);
    const early = await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 100, reason: 'x' }).expect(422);
    expect(early.body.detail).to.match(/Nothing was charged/);
    await charge(paymentId);
    await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 100_001, reason: 'x' }).expect(422);
    await post(carrierOrg.auth, `/payments/${paymentId}/refunds`, { amountCents: 100, reason: 'x' }).expect(403);
    await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 0, reason: 'x' }).expect(400);
    await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 8_000, reason: 'late delivery' })
      .set('Idempotency-Key', 'refund-1')
      .expect(202);
    const again = await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 8_000, reason: 'late delivery' })
      .set('Idempotency-Key', 'refund-1')
      .expect(202);
    expect(again.headers['idempotent-replayed']).to.equal('true');
    const state = (await audit(paymentId).expect(200)).body.state;
    expect(state).to.include({
      refundedCents: 8_000,
      platformFeeCents: 0,
      carrierPayableCents: 95_000 - 3_000,
      reconciles: true,
    });
  });

  it('writes off an unpaid payment and closes it; nothing moves after', async () => {
    const { paymentId } = await delivered(60_000);
    await post(shipper.auth, `/payments/${paymentId}/write-off`, { reason: 'x' }).expect(403);
    await post(h.admin, `/payments/${paymentId}/close`).expect(409);
    await post(h.admin, `/payments/${paymentId}/write-off`, { reason: 'shipper bankrupt' }).expect(202);
    await post(h.admin, `/payments/${paymentId}/close`).expect(202);
    await post(carrierOrg.auth, `/payments/${paymentId}/quickpay`).expect(409);
    expect((await audit(paymentId).expect(200)).body.state).to.include({ status: 'closed', reconciles: true });
  });

  it('shows the state at a past moment, and only to auditors and admins', async () => {
    const { paymentId } = await delivered(100_000);
    const invoicedAt = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await charge(paymentId);
    const then = await audit(paymentId, auditor, `?at=${encodeURIComponent(invoicedAt)}`).expect(200);
    expect(then.body.state).to.include({ stage: 'invoiced' });
    expect(then.body.events).to.have.length(1);
    expect((await audit(paymentId).expect(200)).body.state).to.include({ stage: 'charged', chargedCents: 100_000 });
    await audit(paymentId, shipper.auth).expect(403);
    await audit(randomUUID()).expect(404);
    await audit(paymentId, auditor, '?at=yesterday').expect(400);
  });

  it('keeps a ledger whose balances sum to zero, each organisation seeing its own side', async () => {
    const { paymentId } = await delivered(150_000);
    await charge(paymentId);
    await h.settle();
    const all = await h.http().get('/ledger/balances').set('Authorization', auditor).expect(200);
    expect(all.body.totalCents).to.equal(0);
    const entries = (await h.http().get(`/ledger/payments/${paymentId}`).set('Authorization', h.admin).expect(200)).body
      .entries;
    expect(entries.map((e: { eventType: string; account: string }) => `${e.eventType}:${e.account}`)).to.deep.equal([
      'InvoiceIssued:shipper_receivable',
      'InvoiceIssued:carrier_payable',
      'InvoiceIssued:platform_fee_revenue',
      'ChargeSucceeded:cash',
      'ChargeSucceeded:shipper_receivable',
    ]);
    const mine = (
      await h.http().get(`/ledger/orgs/${carrierOrg.orgId}`).set('Authorization', carrierOrg.auth).expect(200)
    ).body;
    expect(mine.accounts.map((a: { account: string }) => a.account)).to.deep.equal(['carrier_payable']);
    expect(mine.accounts[0].balanceCents).to.be.below(0);
    await h.http().get(`/ledger/orgs/${shipper.orgId}`).set('Authorization', carrierOrg.auth).expect(403);
    await h.http().get('/ledger/balances').set('Authorization', shipper.auth).expect(403);
  });

  it('lists payments for auditors, the most recently changed first, with their invoice, and pages back in time', async () => {
    const older = await delivered(120_000);
    const newer = await delivered(150_000);
    await charge(newer.paymentId);
    await h.settle();
    const res = await h.http().get('/payments?limit=200').set('Authorization', auditor).expect(200);
    const ids = res.body.items.map((p: { paymentId: string }) => p.paymentId);
    expect(ids.indexOf(newer.paymentId)).to.be.at.least(0).and.below(ids.indexOf(older.paymentId));
    const item = res.body.items.find((p: { paymentId: string }) => p.paymentId === newer.paymentId);
    expect(item).to.include({
      lastEvent: 'ChargeSucceeded',
      revision: '2',
      shipperOrgId: shipper.orgId,
      carrierOrgId: carrierOrg.orgId,
      payableCents: 142_500,
      feeCents: 7_500,
    });
    const page = await h
      .http()
      .get(`/payments?before=${encodeURIComponent(item.updatedAt)}`)
      .set('Authorization', auditor)
      .expect(200);
    expect(page.body.items.map((p: { paymentId: string }) => p.paymentId)).to.not.include(newer.paymentId);
    expect(page.body.items.every((p: { updatedAt: string }) => p.updatedAt < item.updatedAt)).to.equal(true);
    await h.http().get('/payments').set('Authorization', shipper.auth).expect(403);
    await h.http().get('/payments?limit=0').set('Authorization', auditor).expect(400);
  });

  it('catches a stored event altered in Postgres, over HTTP and with npm run audit', async () => {
    const { paymentId } = await delivered(100_000);
    await charge(paymentId);
    const { paymentId: untouched } = await delivered(120_000);
    const env = {
      ...process.env,
      DATABASE_URL: h.databaseUrl,
      REDIS_URL: (await testServices()).redisUrl,
      LOG_LEVEL: 'warn',
    };
    const cli = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', ...args], { cwd: root, env }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
    expect(await cli(['payment', paymentId])).to.deep.include({ code: 0 });

    // Someone with database access lowers the amount the shipper was charged.
    const succeeded = (await h.store.readStream(`payment-${paymentId}`)).find((e) => e.type === 'ChargeSucceeded')!;
    await h.knex.raw(`update es_events set data = jsonb_set(data, '{amountCents}', '1') where id = ?`, [succeeded.id]);

    const a = await auditPayment(h.store, paymentId);
    expect(a.ok).to.equal(false);
    expect(a.chain).to.deep.include({ ok: false, eventId: succeeded.id });
    const http = (await audit(paymentId).expect(200)).body;
    expect(http.ok).to.equal(false);
    expect(http.chain).to.include({ ok: false, eventId: succeeded.id, revision: succeeded.revision.toString() });

    const one = await cli(['payment', paymentId]);
    expect(one.code).to.equal(1);
    expect(one.out).to.include(`TAMPERED at revision ${succeeded.revision}, event ${succeeded.id}`);
    const all = await cli(['--all']);
    expect(all.code).to.equal(1);
    expect(all.out).to.include(succeeded.id);
    expect(all.out).to.include(`payment ${untouched}: ok`);
    expect((await cli(['payment', untouched])).code).to.equal(0);
  });
});
