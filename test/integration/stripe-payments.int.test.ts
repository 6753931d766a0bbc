import { expect } from 'chai';
import Stripe from 'stripe';
import { QUEUES } from '../../src/jobs/queues.js';
import { FakeStripe } from '../fakes/stripe.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';
import { paymentIdForLoad } from '../../src/domain/payment/stream.js';

const WEBHOOK_SECRET = 'whsec_test_freight';
const signer = new Stripe('sk_test_signer');

describe('Charging shippers and paying carriers through Stripe (fake Stripe server, real client)', () => {
  const fake = new FakeStripe();
  let h: ApiHarness;
  let shipper: { orgId: string; userId: string; auth: string };
  let carrierOrg: { orgId: string; userId: string; auth: string };
  let carrierId: string;

  before(async () => {
    const stripe = await fake.start();
    h = await apiHarness(
      'stripe',
      {
        STRIPE_TIMEOUT_MS: '250',
        STRIPE_NETWORK_RETRIES: '0',
        STRIPE_BREAKER_FAILURES: '100',
        PAYMENT_RETRY_MS: '30',
        PAYMENT_CHARGE_ATTEMPTS: '3',
        PAYMENT_PAYOUT_ATTEMPTS: '2',
        JOB_ATTEMPTS: '4',
        JOB_BACKOFF_MS: '400',
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_WEBHOOK_TOLERANCE_SECONDS: '300',
      },
      { stripe },
    );
    shipper = await h.member('shipper', ['shipper']);
    carrierOrg = await h.member('carrier', ['carrier', 'driver']);
    await post(shipper.auth, `/orgs/${shipper.orgId}/billing-account`, {
      stripeCustomerId: 'cus_Gulf1',
      paymentMethodId: 'pm_card_visa',
    }).expect(202);
    carrierId = (await post(carrierOrg.auth, '/carriers', carrierBody(carrierOrg.orgId)).expect(201)).body.carrierId;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    await post(carrierOrg.auth, `/carriers/${carrierId}/payout-account`, { stripeAccountId: 'acct_1LoneStar' }).expect(
      202,
    );
    await post(carrierOrg.auth, `/carriers/${carrierId}/payout-account`, { stripeAccountId: 'not-an-account' }).expect(
      400,
    );
  });
  after(async () => {
    await h.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.declines = 0;
    fake.failures = 0;
    fake.slow = { count: 0, ms: 0 };
    fake.closedAccounts.clear();
  });

  function post(auth: string, p: string, body?: object) {
    const r = h.http().post(p).set('Authorization', auth);
    return body ? r.send(body) : r;
  }
  async function delivered(rateCents: number) {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId, { rateCents })).expect(201)).body
      .loadId as string;
    await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/assignment`, { driverId: carrierOrg.userId, truckId: 'T-1' }).expect(
      202,
    );
    await post(carrierOrg.auth, `/loads/${loadId}/pickup`).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/delivery`, { signedBy: 'J. Doe' }).expect(202);
    return { loadId, paymentId: paymentIdForLoad(loadId) };
  }
  const types = async (paymentId: string) => (await h.store.readStream(`payment-${paymentId}`)).map((e) => e.type);
  const eventually = async (paymentId: string, type: string, count = 1) =>
    expect(
      await until(async () => (await types(paymentId)).filter((t) => t === type).length >= count, 10_000),
      `${type} ×${count} on ${paymentId}`,
    ).to.equal(true);
  const intentsOf = (paymentId: string) =>
    [...fake.paymentIntents.values()].filter((i) => (i.metadata as { paymentId: string }).paymentId === paymentId);
  const transfersOf = (paymentId: string) =>
    [...fake.transfers.values()].filter((t) => (t.metadata as { paymentId: string }).paymentId === paymentId);

  it('charges the shipper on delivery and, on QuickPay, transfers the payable to the carrier, tied by the load', async () => {
    const { loadId, paymentId } = await delivered(180_000);
    await eventually(paymentId, 'ChargeSucceeded');
    const [intent] = intentsOf(paymentId);
    expect(intent).to.include({
      amount: 180_000,
      currency: 'usd',
      customer: 'cus_Gulf1',
      payment_method: 'pm_card_visa',
      transfer_group: `load-${loadId}`,
    });
    const stream = await h.store.readStream(`payment-${paymentId}`);
    expect(stream.find((e) => e.type === 'ChargeSucceeded')!.data).to.include({
      providerRef: intent!.id,
      amountCents: 180_000,
    });
    // Standard terms: nothing is paid before the due date.
    await h.settle();
    expect(transfersOf(paymentId)).to.have.length(0);
    await post(carrierOrg.auth, `/payments/${paymentId}/quickpay`).expect(202);
    await eventually(paymentId, 'PayoutSent');
    const [transfer] = transfersOf(paymentId);
    // 5% platform fee, then 3% QuickPay: 171,000 − 5,130.
    expect(transfer).to.include({ amount: 165_870, destination: 'acct_1LoneStar', transfer_group: `load-${loadId}` });
    expect(
      (await h.http().get(`/audit/payments/${paymentId}`).set('Authorization', h.admin).expect(200)).body,
    ).to.deep.include({ ok: true });
    const keys = fake.requests.filter((r) => r.idempotencyKey).map((r) => r.idempotencyKey!);
    expect(keys.filter((k) => k.startsWith('charge-'))).to.have.length(1);
  });

  it('records a declined card, tries again later, and succeeds', async () => {
    fake.declines = 1;
    const { paymentId } = await delivered(50_000);
    await eventually(paymentId, 'ChargeSucceeded');
    const stream = await h.store.readStream(`payment-${paymentId}`);
    expect(
      stream.filter((e) => e.type === 'ChargeRequested').map((e) => (e.data as { attempt: number }).attempt),
    ).to.deep.equal([1, 2]);
    expect(stream.find((e) => e.type === 'ChargeFailed')!.data).to.include({ reason: 'insufficient_funds' });
    expect(intentsOf(paymentId)).to.have.length(1);
  });

  it('measures each charge outcome’s time since delivery (payment_stage_seconds)', async () => {
    const count = async (stage: string, outcome: string) => {
      const m = new RegExp(`^payment_stage_seconds_count\\{stage="${stage}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(
        await h.metrics.text(),
      );
      return m ? Number(m[1]) : 0;
    };
    const before = { ok: await count('charge', 'succeeded'), failed: await count('charge', 'failed') };
    fake.declines = 1;
    const { paymentId } = await delivered(30_000);
    await eventually(paymentId, 'ChargeSucceeded');
    expect(await count('charge', 'failed')).to.equal(before.failed + 1);
    expect(await count('charge', 'succeeded')).to.equal(before.ok + 1);
    // Delivered a moment ago: the charge came within the first bucket of 10 s.
    expect(await h.metrics.text()).to.match(
      /^payment_stage_seconds_bucket\{le="10",stage="charge",outcome="succeeded"\} [1-9]/m,
    );
  });

  it('flags the payment for review when the card keeps being declined', async () => {
    fake.declines = 3;
    const { paymentId } = await delivered(40_000);
    await eventually(paymentId, 'PaymentFlaggedForReview');
    const t = await types(paymentId);
    expect(t.filter((x) => x === 'ChargeFailed')).to.have.length(3);
    expect(t).to.not.include('ChargeSucceeded');
    const flagged = (await h.store.readStream(`payment-${paymentId}`)).find(
      (e) => e.type === 'PaymentFlaggedForReview',
    )!;
    expect(flagged.data).to.include({ stage: 'charge', attempts: 3 });
  });

  it('does not charge twice when Stripe answers too late and the job is retried, or fails with a 500', async () => {
    fake.slow = { count: 1, ms: 600 };
    const seen = fake.requests.length;
    const { paymentId } = await delivered(70_000);
    await eventually(paymentId, 'ChargeSucceeded');
    expect(intentsOf(paymentId)).to.have.length(1);
    const keys = fake.requests
      .slice(seen)
      .filter((r) => r.idempotencyKey?.startsWith('charge-') && r.path === '/v1/payment_intents');
    expect(new Set(keys.map((k) => k.idempotencyKey)).size, 'every try of the charge used one key').to.equal(1);
    expect(keys.length).to.be.above(1);

    fake.failures = 1;
    const second = await delivered(71_000);
    await eventually(second.paymentId, 'ChargeSucceeded');
    expect(intentsOf(second.paymentId)).to.have.length(1);
  });

  it('records a refused transfer after a successful charge, retries it, then flags the partial failure', async () => {
    fake.closedAccounts.add('acct_1LoneStar');
    const { paymentId } = await delivered(60_000);
    await eventually(paymentId, 'ChargeSucceeded');
    await post(carrierOrg.auth, `/payments/${paymentId}/quickpay`).expect(202);
    await eventually(paymentId, 'PaymentFlaggedForReview');
    const stream = await h.store.readStream(`payment-${paymentId}`);
    expect(stream.filter((e) => e.type === 'PayoutFailed')).to.have.length(2);
    expect(stream.find((e) => e.type === 'PaymentFlaggedForReview')!.data).to.include({ stage: 'payout' });
    expect((stream.find((e) => e.type === 'PaymentFlaggedForReview')!.data as { reason: string }).reason).to.match(
      /charge succeeded, transfer failed 2 times/,
    );
    expect(transfersOf(paymentId)).to.have.length(0);
    const failed = await h.queues.queue(QUEUES.payments).getJobCounts('failed');
    expect(failed.failed).to.equal(0);
  });

  it('sends an admin refund back to the shipper through Stripe, once', async () => {
    const { paymentId } = await delivered(80_000);
    await eventually(paymentId, 'ChargeSucceeded');
    await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 12_000, reason: 'late delivery' })
      .set('Idempotency-Key', `refund-${paymentId}`)
      .expect(202);
    await post(h.admin, `/payments/${paymentId}/refunds`, { amountCents: 12_000, reason: 'late delivery' })
      .set('Idempotency-Key', `refund-${paymentId}`)
      .expect(202);
    await eventually(paymentId, 'RefundSent');
    const [intent] = intentsOf(paymentId);
    const refunds = [...fake.refunds.values()].filter((r) => r.payment_intent === intent!.id);
    expect(refunds.map((r) => r.amount)).to.deep.equal([12_000]);
    await h.settle();
    const ledger = (await h.http().get(`/ledger/payments/${paymentId}`).set('Authorization', h.admin).expect(200)).body
      .entries;
    expect(
      ledger
        .filter((e: { eventType: string }) => e.eventType === 'RefundSent')
        .map((e: { account: string }) => e.account),
    ).to.deep.equal(['refund_payable', 'cash']);
  });

  describe('webhooks', () => {
    let n = 0;
    const stripeEvent = (type: string, object: Record<string, unknown>, id = `evt_${Date.now()}_${++n}`) =>
      JSON.stringify({
        id,
        object: 'event',
        type,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        api_version: '2024-06-20',
        data: { object },
        pending_webhooks: 1,
        request: null,
      });
    const deliver = (payload: string, opts: { secret?: string; timestamp?: number; header?: string | null } = {}) => {
      const r = h.http().post('/webhooks/stripe').set('Content-Type', 'application/json');
      const header =
        opts.header === undefined
          ? signer.webhooks.generateTestHeaderString({
              payload,
              secret: opts.secret ?? WEBHOOK_SECRET,
              ...(opts.timestamp ? { timestamp: opts.timestamp } : {}),
            })
          : opts.header;
      if (header !== null) r.set('Stripe-Signature', header);
      return r.send(payload);
    };
    async function chargedPayment() {
      const { paymentId } = await delivered(90_000);
      await eventually(paymentId, 'ChargeSucceeded');
      await h.settle();
      const [intent] = intentsOf(paymentId);
      return { paymentId, intent: intent! };
    }

    it('refuses unsigned, wrongly signed and stale deliveries, appending nothing', async () => {
      const { paymentId, intent } = await chargedPayment();
      const before = (await types(paymentId)).length;
      const payload = stripeEvent('charge.dispute.created', {
        id: 'dp_forged',
        object: 'dispute',
        amount: 90_000,
        payment_intent: intent.id,
        reason: 'fraudulent',
        status: 'needs_response',
      });
      expect((await deliver(payload, { header: null }).expect(400)).body.type).to.equal(
        'urn:freight:problem:bad-signature',
      );
      await deliver(payload, { secret: 'whsec_someone_else' }).expect(400);
      await deliver(payload, { timestamp: Math.floor(Date.now() / 1000) - 3_600 }).expect(400);
      // A body altered after signing.
      const signed = signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
      await deliver(payload.replace('90000', '1'), { header: signed }).expect(400);
      expect((await types(paymentId)).length).to.equal(before);
      expect(await h.knex('stripe_webhook_events').where({ type: 'charge.dispute.created' })).to.have.length(0);
    });

    it('opens and closes a dispute, once however often Stripe delivers, in whatever order', async () => {
      const { paymentId, intent } = await chargedPayment();
      const dispute = {
        id: `dp_${n}`,
        object: 'dispute',
        amount: 20_000,
        payment_intent: intent.id,
        reason: 'product_not_received',
      };
      const created = stripeEvent('charge.dispute.created', { ...dispute, status: 'needs_response' });
      const closed = stripeEvent('charge.dispute.closed', { ...dispute, status: 'lost' });
      // The closing arrives first: not applied yet, so Stripe will deliver it again.
      await deliver(closed).expect(503);
      expect((await deliver(created).expect(200)).body.outcome).to.equal('applied');
      expect((await deliver(created).expect(200)).body).to.include({ duplicate: true });
      expect((await deliver(closed).expect(200)).body.outcome).to.equal('applied');
      await deliver(closed).expect(200);
      const t = await types(paymentId);
      expect(t.filter((x) => x === 'DisputeOpened')).to.have.length(1);
      expect(t.filter((x) => x === 'DisputeResolved')).to.have.length(1);
      const audit = (await h.http().get(`/audit/payments/${paymentId}`).set('Authorization', h.admin).expect(200)).body;
      expect(audit.ok).to.equal(true);
      expect(audit.state).to.include({ refundedCents: 20_000, reconciles: true });
      const opened = audit.events.find((e: { type: string }) => e.type === 'DisputeOpened');
      expect(opened.causationId).to.equal(JSON.parse(created).id);
    });

    it('ignores a success it already recorded, and a failure that arrives after the success', async () => {
      const { paymentId, intent } = await chargedPayment();
      const before = (await types(paymentId)).length;
      const chargeId = (intent.metadata as { chargeId: string }).chargeId;
      const ok = await deliver(
        stripeEvent('payment_intent.succeeded', { ...intent, metadata: { paymentId, chargeId } }),
      ).expect(200);
      expect(ok.body.outcome).to.equal('ignored');
      const late = await deliver(
        stripeEvent('payment_intent.payment_failed', {
          ...intent,
          status: 'requires_payment_method',
          metadata: { paymentId, chargeId },
          last_payment_error: { code: 'card_declined' },
        }),
      ).expect(200);
      expect(late.body.outcome).to.equal('ignored');
      expect((await types(paymentId)).length).to.equal(before);
    });

    it('asks Stripe to deliver again a dispute about a charge not known yet', async () => {
      await deliver(
        stripeEvent('charge.dispute.created', {
          id: 'dp_unknown',
          object: 'dispute',
          amount: 1,
          payment_intent: 'pi_never_seen',
          reason: 'fraudulent',
          status: 'needs_response',
        }),
      ).expect(503);
    });
  });
});
