import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Unsent } from '../../src/application/invocation.js';
import { PAYMENTS_SYSTEM, PaymentService } from '../../src/application/payments.js';
import type { PaymentCommand } from '../../src/domain/payment/decider.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { Checkpoints } from '../../src/projections/checkpoints.js';
import { ledgerProjector } from '../../src/read-models/ledger/projector.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { freshDatabase, testLogger } from '../support/services.js';

const SHIPPER = '11111111-1111-4111-8111-111111111111';
const CARRIER = '22222222-2222-4222-8222-222222222222';
const DAY = 86_400_000;

describe('The ledger projection (double entry over the payment streams)', () => {
  let knex: Knex;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;

  before(async () => {
    const url = await freshDatabase('ledger');
    knex = createKnex(url, 4);
    store = new PostgresEventStore({ databaseUrl: url });
  });
  after(async () => {
    await runner?.stop();
    await store.close();
    await knex.destroy();
  });

  const pay = (paymentId: string, type: PaymentCommand['type'], data: object, now = new Date()) =>
    new PaymentService(store).run(paymentId, { type, data } as Unsent<PaymentCommand>, { actor: PAYMENTS_SYSTEM, now });
  async function invoiced(amountCents: number) {
    const paymentId = randomUUID();
    await pay(paymentId, 'IssueInvoice', {
      paymentId,
      loadId: randomUUID(),
      shipperOrgId: SHIPPER,
      carrierId: randomUUID(),
      carrierOrgId: CARRIER,
      amountCents,
      feeBps: 500,
      termsDays: 30,
      deliveredAt: new Date(Date.now() - 31 * DAY),
    });
    return paymentId;
  }
  async function charged(paymentId: string) {
    const chargeId = randomUUID();
    await pay(paymentId, 'RequestCharge', { chargeId });
    await pay(paymentId, 'RecordChargeSucceeded', { chargeId, providerRef: `pi_${chargeId.slice(0, 8)}` });
  }
  const balances = async (table = 'ledger_entries') =>
    Object.fromEntries(
      (
        (await knex(table)
          .select('account')
          .sum({ b: knex.raw('debit_cents - credit_cents') })
          .groupBy('account')) as { account: string; b: string }[]
      ).map((r) => [r.account, Number(r.b)]),
    );

  it('posts balanced lines for every money movement, and the balances sum to zero', async () => {
    // A: invoiced, charged, QuickPay, paid out, then a refund out of the platform's share.
    const a = await invoiced(100_000);
    await charged(a);
    await pay(a, 'RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 });
    const payoutId = randomUUID();
    await pay(a, 'RequestPayout', { payoutId });
    await pay(a, 'RecordPayoutSent', { payoutId, providerRef: 'tr_x' });
    await pay(a, 'IssueRefund', { refundId: randomUUID(), amountCents: 4_000, reason: 'late' });
    // B: invoiced, charged, a dispute lost before the payout.
    const b = await invoiced(50_000);
    await charged(b);
    await pay(b, 'OpenDispute', { disputeId: 'dp_b', amountCents: 10_000, reason: 'fraudulent' });
    await pay(b, 'ResolveDispute', { disputeId: 'dp_b', outcome: 'lost' });
    // C: invoiced, QuickPay, never paid: written off.
    const c = await invoiced(30_000);
    await pay(c, 'RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 });
    await new PaymentService(store).run(
      c,
      { type: 'WriteOff', data: { reason: 'shipper bankrupt' } },
      { actor: { userId: 'u-admin', orgId: 'x', roles: ['admin'] } },
    );

    runner = new ProjectionRunner({ knex, store, projectors: [ledgerProjector], logger: testLogger, batchSize: 3 });
    runner.start();
    expect(await runner.idle(15_000)).to.equal(true);

    // Every event's lines balance.
    const perEvent = (await knex('ledger_entries')
      .select('event_id')
      .sum({ d: 'debit_cents', c: 'credit_cents' })
      .groupBy('event_id')) as { d: string; c: string }[];
    for (const r of perEvent) expect(Number(r.d)).to.equal(Number(r.c));
    const b1 = await balances();
    expect(Object.values(b1).reduce((s, v) => s + v, 0)).to.equal(0);
    // Cash: 100,000 + 50,000 charged, less the payout (95,000 − 2,850 QuickPay fee) and the lost dispute;
    // the refund is owed to the shipper until Stripe sends it.
    expect(b1).to.deep.equal({
      cash: 150_000 - 92_150 - 10_000,
      refund_payable: -4_000,
      shipper_receivable: 0,
      // B's carrier is owed 47,500 − 7,500 of the dispute (the platform's 2,500 fee went first).
      carrier_payable: -40_000,
      // A: 5,000 + 2,850 − 4,000; B: 2,500 − 2,500; C: reversed.
      platform_fee_revenue: -3_850,
    });
    const cEntries = await knex('ledger_entries')
      .where({ payment_id: c })
      .orderBy([{ column: 'revision' }, { column: 'line' }]);
    expect(cEntries.map((e: { event_type: string }) => e.event_type)).to.deep.equal([
      'InvoiceIssued',
      'InvoiceIssued',
      'InvoiceIssued',
      'QuickPayRequested',
      'QuickPayRequested',
      'PaymentWrittenOff',
      'PaymentWrittenOff',
      'PaymentWrittenOff',
    ]);
  });

  it('changes nothing when a batch is applied again', async () => {
    const before = await knex('ledger_entries').orderBy(['event_id', 'line']);
    const events = await store.readAll({ filter: { streamPrefixes: ['payment-'] } });
    await knex.transaction(async (trx) => {
      const live = (await new Checkpoints(knex).liveGeneration('ledger'))!.generation;
      await ledgerProjector.apply(trx, events, (t) => `${t}__g${live}`);
    });
    expect(await knex('ledger_entries').orderBy(['event_id', 'line'])).to.deep.equal(before);
  });

  it('comes out identical when rebuilt from history', async () => {
    const before = await knex('ledger_entries').orderBy(['event_id', 'line']);
    await runner.stop();
    const { generation } = await rebuildProjection({
      knex,
      store,
      checkpoints: new Checkpoints(knex),
      projector: ledgerProjector,
      logger: testLogger,
      batchSize: 4,
    });
    expect(generation).to.be.above(1);
    expect(await knex('ledger_entries').orderBy(['event_id', 'line'])).to.deep.equal(before);
    expect(await knex('ledger_payments').orderBy('payment_id')).to.have.length(3);
  });
});
