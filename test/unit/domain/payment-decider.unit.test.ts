import { expect } from 'chai';
import fc from 'fast-check';
import {
  decide,
  evolve,
  initialState,
  type PaymentCommand,
  type PaymentState,
  reconciles,
  stageOf,
} from '../../../src/domain/payment/decider.js';
import { type PaymentEvent, paymentEventDefinitions, paymentEvents } from '../../../src/domain/payment/events.js';
import type { Actor } from '../../../src/domain/shared/actor.js';
import { DomainError, Forbidden, IllegalTransition, RuleViolation } from '../../../src/domain/shared/errors.js';
import { specification } from '../../support/decider.js';
import {
  admin,
  CARRIER_ID,
  CARRIER_ORG,
  carrierUser,
  hours,
  LOAD_ID,
  NOW,
  SHIPPER_ORG,
  stranger,
} from './load-fixtures.js';

const given = specification({ decide, evolve, initialState });
const cmd = <T extends PaymentCommand['type']>(
  type: T,
  data: Extract<PaymentCommand, { type: T }>['data'],
  actor: Actor = admin,
  now = NOW,
) => ({ type, data, metadata: { now, actor } }) as PaymentCommand;

const PAYMENT_ID = '99999999-9999-4999-8999-999999999999';
const CHARGE = 'c0000000-0000-4000-8000-000000000001';
const CHARGE2 = 'c0000000-0000-4000-8000-000000000002';
const PAYOUT = 'd0000000-0000-4000-8000-000000000001';
const REFUND = 'e0000000-0000-4000-8000-000000000001';

const invoice = cmd('IssueInvoice', {
  paymentId: PAYMENT_ID,
  loadId: LOAD_ID,
  shipperOrgId: SHIPPER_ORG,
  carrierId: CARRIER_ID,
  carrierOrgId: CARRIER_ORG,
  amountCents: 200_000,
  feeBps: 500,
  termsDays: 30,
  deliveredAt: NOW,
});
const issued: PaymentEvent = {
  type: 'InvoiceIssued',
  data: {
    paymentId: PAYMENT_ID,
    loadId: LOAD_ID,
    shipperOrgId: SHIPPER_ORG,
    carrierId: CARRIER_ID,
    carrierOrgId: CARRIER_ORG,
    currency: 'usd',
    amountCents: 200_000,
    platformFeeCents: 10_000,
    carrierPayableCents: 190_000,
    termsDays: 30,
    deliveredAt: NOW,
    issuedAt: NOW,
  },
};
const requested: PaymentEvent = {
  type: 'ChargeRequested',
  data: { chargeId: CHARGE, attempt: 1, amountCents: 200_000, requestedAt: NOW },
};
const charged: PaymentEvent = {
  type: 'ChargeSucceeded',
  data: { chargeId: CHARGE, providerRef: 'pi_1', amountCents: 200_000, succeededAt: NOW },
};
const quickPay: PaymentEvent = {
  type: 'QuickPayRequested',
  data: { feeCents: 5_700, requestedBy: 'u-carrier', requestedAt: NOW },
};
const payoutRequested: PaymentEvent = {
  type: 'PayoutRequested',
  data: { payoutId: PAYOUT, attempt: 1, terms: 'quickpay', amountCents: 184_300, dueAt: NOW, requestedAt: NOW },
};
const paid: PaymentEvent = {
  type: 'PayoutSent',
  data: { payoutId: PAYOUT, providerRef: 'tr_1', amountCents: 184_300, sentAt: NOW },
};
const state = (events: PaymentEvent[]) => events.reduce(evolve, initialState as PaymentState);

describe('The payment decider', () => {
  describe('the happy path', () => {
    it('invoices the load less the platform fee, charges the shipper, pays the carrier on QuickPay, and closes', () => {
      given([]).when(invoice).then([issued]);
      given([issued]).when(invoice).then([]);
      given([issued])
        .when(cmd('RequestCharge', { chargeId: CHARGE }))
        .then([requested]);
      given([issued, requested])
        .when(cmd('RequestCharge', { chargeId: CHARGE2 }))
        .then([]);
      given([issued, requested])
        .when(cmd('RecordChargeSucceeded', { chargeId: CHARGE, providerRef: 'pi_1' }))
        .then([charged]);
      given([issued, requested, charged])
        .when(cmd('RecordChargeSucceeded', { chargeId: CHARGE, providerRef: 'pi_1' }))
        .then([]);
      // 3% of 190,000 is 5,700 (above the 2,500 minimum).
      given([issued, requested, charged])
        .when(cmd('RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 }, carrierUser))
        .then([quickPay]);
      given([issued, requested, charged, quickPay])
        .when(cmd('RequestPayout', { payoutId: PAYOUT }))
        .then([payoutRequested]);
      given([issued, requested, charged, quickPay, payoutRequested])
        .when(cmd('RecordPayoutSent', { payoutId: PAYOUT, providerRef: 'tr_1' }))
        .then([paid]);
      given([issued, requested, charged, quickPay, payoutRequested, paid])
        .when(cmd('ClosePayment', {}))
        .then([{ type: 'PaymentClosed', data: { closedAt: NOW } }]);
      const s = state([issued, requested, charged, quickPay, payoutRequested, paid]);
      expect(stageOf(s)).to.equal('paid_out');
      expect(reconciles(s)).to.equal(true);
    });

    it('takes the QuickPay minimum fee on a small payable', () => {
      const small = cmd('IssueInvoice', {
        ...(invoice.data as Extract<PaymentCommand, { type: 'IssueInvoice' }>['data']),
        amountCents: 20_000,
      });
      const [inv] = decide(small, initialState);
      const [qp] = decide(cmd('RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 }, carrierUser), state([inv!]));
      expect(qp!.data).to.include({ feeCents: 2_500 });
    });

    it('pays on standard terms only once they are due', () => {
      given([issued, requested, charged])
        .when(cmd('RequestPayout', { payoutId: PAYOUT }, admin, hours(24)))
        .thenThrows(RuleViolation, /due 2026-12-22/);
      const [e] = decide(
        cmd('RequestPayout', { payoutId: PAYOUT }, admin, hours(30 * 24)),
        state([issued, requested, charged]),
      );
      expect(e!.data).to.include({ terms: 'standard', amountCents: 190_000 });
    });

    it('retries a failed charge as a new attempt, and flags it for review once', () => {
      const failed: PaymentEvent = {
        type: 'ChargeFailed',
        data: { chargeId: CHARGE, reason: 'card_declined', failedAt: NOW },
      };
      given([issued, requested])
        .when(cmd('RecordChargeFailed', { chargeId: CHARGE, reason: 'card_declined' }))
        .then([failed]);
      given([issued, requested, failed])
        .when(cmd('RequestCharge', { chargeId: CHARGE2 }))
        .then([
          { type: 'ChargeRequested', data: { chargeId: CHARGE2, attempt: 2, amountCents: 200_000, requestedAt: NOW } },
        ]);
      const flag = cmd('FlagForReview', { stage: 'charge', attempts: 5, reason: 'declined 5 times' });
      const flagged: PaymentEvent = {
        type: 'PaymentFlaggedForReview',
        data: { stage: 'charge', attempts: 5, reason: 'declined 5 times', flaggedAt: NOW },
      };
      given([issued, requested, failed]).when(flag).then([flagged]);
      given([issued, requested, failed, flagged]).when(flag).then([]);
    });
  });

  describe('refused flows', () => {
    it('does not pay the carrier before the charge succeeded', () => {
      given([issued])
        .when(cmd('RequestPayout', { payoutId: PAYOUT }, admin, hours(24 * 31)))
        .thenThrows(RuleViolation, /before the shipper/);
      given([issued, requested])
        .when(cmd('RequestPayout', { payoutId: PAYOUT }, admin, hours(24 * 31)))
        .thenThrows(RuleViolation, /before the shipper/);
    });

    it('does not refund more than was charged, or anything before a charge', () => {
      given([issued])
        .when(cmd('IssueRefund', { refundId: REFUND, amountCents: 1, reason: 'x' }))
        .thenThrows(RuleViolation, /Nothing was charged/);
      given([issued, requested, charged])
        .when(cmd('IssueRefund', { refundId: REFUND, amountCents: 200_001, reason: 'x' }))
        .thenThrows(RuleViolation, /At most 200000/);
      const refund: PaymentEvent = {
        type: 'RefundIssued',
        data: {
          refundId: REFUND,
          amountCents: 150_000,
          fromCarrierCents: 140_000,
          fromPlatformCents: 10_000,
          reason: 'damaged',
          issuedBy: 'u-admin',
          issuedAt: NOW,
        },
      };
      given([issued, requested, charged])
        .when(cmd('IssueRefund', { refundId: REFUND, amountCents: 150_000, reason: 'damaged' }))
        .then([refund]);
      given([issued, requested, charged, refund])
        .when(cmd('IssueRefund', { refundId: REFUND, amountCents: 150_000, reason: 'damaged' }))
        .then([]);
      given([issued, requested, charged, refund])
        .when(cmd('IssueRefund', { refundId: CHARGE2, amountCents: 50_001, reason: 'x' }))
        .thenThrows(RuleViolation, /At most 50000/);
      const sent: PaymentEvent = {
        type: 'RefundSent',
        data: { refundId: REFUND, providerRef: 're_1', amountCents: 150_000, sentAt: NOW },
      };
      given([issued, requested, charged, refund])
        .when(cmd('RecordRefundSent', { refundId: REFUND, providerRef: 're_1' }))
        .then([sent]);
      given([issued, requested, charged, refund, sent])
        .when(cmd('RecordRefundSent', { refundId: REFUND, providerRef: 're_1' }))
        .then([]);
    });

    it('does not take a refund out of a carrier already paid', () => {
      given([issued, requested, charged, quickPay, payoutRequested, paid])
        .when(cmd('IssueRefund', { refundId: REFUND, amountCents: 20_000, fromCarrierCents: 10_000, reason: 'x' }))
        .thenThrows(RuleViolation, /carrier was paid/);
      // The platform's share absorbs it instead, up to what it kept (10,000 + 5,700).
      const [e] = decide(
        cmd('IssueRefund', { refundId: REFUND, amountCents: 15_000, reason: 'x' }),
        state([issued, requested, charged, quickPay, payoutRequested, paid]),
      );
      expect(e!.data).to.include({ fromCarrierCents: 0, fromPlatformCents: 15_000 });
    });

    it('grants QuickPay once, to the carrier, before the payout', () => {
      given([issued, requested, charged, quickPay])
        .when(cmd('RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 }, carrierUser))
        .thenThrows(RuleViolation, /already requested/);
      given([issued])
        .when(cmd('RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 }, stranger))
        .thenThrows(Forbidden);
      given([issued, requested, charged, quickPay, payoutRequested, paid])
        .when(cmd('RequestQuickPay', { feeBps: 300, minFeeCents: 2_500 }))
        .thenThrows(DomainError);
    });

    it('holds the payout while a dispute is open; a lost dispute comes out of the platform fee first', () => {
      const opened: PaymentEvent = {
        type: 'DisputeOpened',
        data: { disputeId: 'dp_1', amountCents: 30_000, reason: 'fraudulent', openedAt: NOW },
      };
      given([issued, requested, charged, quickPay, opened])
        .when(cmd('RequestPayout', { payoutId: PAYOUT }))
        .thenThrows(RuleViolation, /dispute is open/);
      const [lost] = decide(
        cmd('ResolveDispute', { disputeId: 'dp_1', outcome: 'lost' }),
        state([issued, requested, charged, opened]),
      );
      expect(lost!.data).to.include({ fromPlatformCents: 10_000, fromCarrierCents: 20_000 });
      const after = state([issued, requested, charged, opened, lost!]);
      expect(after.status === 'open' && after.settlement).to.include({
        payableCents: 170_000,
        feeCents: 0,
        refundedCents: 30_000,
      });
      expect(reconciles(after)).to.equal(true);
    });

    it('writes off only what was never charged, and only by an admin', () => {
      given([issued, requested, charged])
        .when(cmd('WriteOff', { reason: 'x' }))
        .thenThrows(IllegalTransition, /was charged/);
      given([issued])
        .when(cmd('WriteOff', { reason: 'x' }, carrierUser))
        .thenThrows(Forbidden);
      given([issued])
        .when(cmd('WriteOff', { reason: 'shipper bankrupt' }))
        .then([
          {
            type: 'PaymentWrittenOff',
            data: { amountCents: 200_000, reason: 'shipper bankrupt', writtenOffBy: 'u-admin', writtenOffAt: NOW },
          },
        ]);
    });

    it('leaves money movements to the platform, not to users', () => {
      given([issued])
        .when(cmd('RequestCharge', { chargeId: CHARGE }, carrierUser))
        .thenThrows(Forbidden);
      given([issued, requested, charged])
        .when(cmd('RequestPayout', { payoutId: PAYOUT }, carrierUser, hours(24 * 31)))
        .thenThrows(Forbidden);
      given([issued])
        .when(cmd('ClosePayment', {}))
        .thenThrows(IllegalTransition, /not settled/);
    });
  });

  describe('reconciliation, over random sequences of commands', () => {
    const ids = ['a', 'b', 'c'].map((c) => `${c.repeat(8)}-0000-4000-8000-000000000000`);
    const command = fc.oneof(
      fc.constantFrom(...ids).map((chargeId) => cmd('RequestCharge', { chargeId })),
      fc.constantFrom(...ids).map((chargeId) => cmd('RecordChargeSucceeded', { chargeId, providerRef: 'pi' })),
      fc.constantFrom(...ids).map((chargeId) => cmd('RecordChargeFailed', { chargeId, reason: 'declined' })),
      fc
        .record({ feeBps: fc.integer({ min: 0, max: 2_000 }), minFeeCents: fc.integer({ min: 0, max: 300_000 }) })
        .map((d) => cmd('RequestQuickPay', d, carrierUser)),
      fc
        .tuple(fc.constantFrom(...ids), fc.integer({ min: 0, max: 24 * 40 }))
        .map(([payoutId, h]) => cmd('RequestPayout', { payoutId }, admin, hours(h))),
      fc.constantFrom(...ids).map((payoutId) => cmd('RecordPayoutSent', { payoutId, providerRef: 'tr' })),
      fc.constantFrom(...ids).map((payoutId) => cmd('RecordPayoutFailed', { payoutId, reason: 'account closed' })),
      fc
        .tuple(
          fc.constantFrom(...ids),
          fc.integer({ min: 0, max: 250_000 }),
          fc.option(fc.integer({ min: 0, max: 250_000 }), { nil: undefined }),
        )
        .map(([refundId, amountCents, fromCarrierCents]) =>
          cmd('IssueRefund', {
            refundId,
            amountCents,
            ...(fromCarrierCents === undefined ? {} : { fromCarrierCents }),
            reason: 'r',
          }),
        ),
      fc
        .tuple(fc.constantFrom('dp_1', 'dp_2'), fc.integer({ min: 1, max: 250_000 }))
        .map(([disputeId, amountCents]) => cmd('OpenDispute', { disputeId, amountCents, reason: 'fraudulent' })),
      fc
        .tuple(fc.constantFrom('dp_1', 'dp_2'), fc.constantFrom('won' as const, 'lost' as const))
        .map(([disputeId, outcome]) => cmd('ResolveDispute', { disputeId, outcome })),
      fc.constant(cmd('WriteOff', { reason: 'w' })),
      fc.constant(cmd('ClosePayment', {})),
    );

    it('keeps invoice = payable + fee + refunds and charged ∈ {0, invoice}; refuses only with domain errors', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 10_000_000 }),
          fc.integer({ min: 0, max: 3_000 }),
          fc.array(command, { maxLength: 40 }),
          (amountCents, feeBps, commands) => {
            const first = cmd('IssueInvoice', {
              ...(invoice.data as Extract<PaymentCommand, { type: 'IssueInvoice' }>['data']),
              amountCents,
              feeBps,
            });
            let s = decide(first, initialState).reduce(evolve, initialState as PaymentState);
            for (const c of commands) {
              try {
                s = decide(c, s).reduce(evolve, s);
              } catch (err) {
                if (!(err instanceof DomainError)) throw err;
              }
              expect(reconciles(s), `after ${c.type}`).to.equal(true);
              if (s.status !== 'none') {
                const t = s.settlement;
                expect(t.payout.sentCents === 0 || t.chargedCents > 0, 'never paid out before the charge').to.equal(
                  true,
                );
                expect(t.refundedCents).to.be.at.most(t.chargedCents);
              }
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  describe('events through their codec', () => {
    const samples: PaymentEvent[] = [
      issued,
      requested,
      charged,
      { type: 'ChargeFailed', data: { chargeId: CHARGE, reason: 'declined', failedAt: NOW } },
      quickPay,
      payoutRequested,
      paid,
      { type: 'PayoutFailed', data: { payoutId: PAYOUT, reason: 'closed', failedAt: NOW } },
      {
        type: 'RefundIssued',
        data: {
          refundId: REFUND,
          amountCents: 5,
          fromCarrierCents: 0,
          fromPlatformCents: 5,
          reason: 'r',
          issuedBy: 'u',
          issuedAt: NOW,
        },
      },
      { type: 'RefundSent', data: { refundId: REFUND, providerRef: 're_1', amountCents: 5, sentAt: NOW } },
      { type: 'RefundFailed', data: { refundId: REFUND, reason: 'charge_already_refunded', failedAt: NOW } },
      { type: 'DisputeOpened', data: { disputeId: 'dp_1', amountCents: 5, reason: 'r', openedAt: NOW } },
      {
        type: 'DisputeResolved',
        data: { disputeId: 'dp_1', outcome: 'won', fromCarrierCents: 0, fromPlatformCents: 0, resolvedAt: NOW },
      },
      { type: 'PaymentFlaggedForReview', data: { stage: 'payout', attempts: 3, reason: 'r', flaggedAt: NOW } },
      { type: 'PaymentWrittenOff', data: { amountCents: 5, reason: 'r', writtenOffBy: 'u', writtenOffAt: NOW } },
      { type: 'PaymentClosed', data: { closedAt: NOW } },
    ];
    it('has a sample for every event type', () => {
      expect(samples.map((s) => s.type).sort()).to.deep.equal(paymentEventDefinitions.map((d) => d.type).sort());
    });
    for (const sample of samples) {
      it(`round-trips ${sample.type}`, () => {
        const { data, schemaVersion } = paymentEvents.encode(sample.type, sample.data);
        expect(
          paymentEvents.decode({
            type: sample.type,
            data: JSON.parse(JSON.stringify(data)),
            metadata: { schemaVersion },
          }),
        ).to.deep.equal(sample.data);
      });
    }
  });
});
