import type { Command } from '../shared/command.js';

export type PaymentCommand =
  | Command<
      'IssueInvoice',
      {
        paymentId: string;
        loadId: string;
        shipperOrgId: string;
        carrierId: string;
        carrierOrgId: string;
        amountCents: number;
        feeBps: number;
        termsDays: number;
        deliveredAt: Date;
      }
    >
  | Command<'RequestCharge', { chargeId: string }>
  | Command<'RecordChargeSucceeded', { chargeId: string; providerRef: string }>
  | Command<'RecordChargeFailed', { chargeId: string; reason: string }>
  | Command<'RequestQuickPay', { feeBps: number; minFeeCents: number }>
  | Command<'RequestPayout', { payoutId: string }>
  | Command<'RecordPayoutSent', { payoutId: string; providerRef: string }>
  | Command<'RecordPayoutFailed', { payoutId: string; reason: string }>
  | Command<'IssueRefund', { refundId: string; amountCents: number; fromCarrierCents?: number; reason: string }>
  | Command<'RecordRefundSent', { refundId: string; providerRef: string }>
  | Command<'RecordRefundFailed', { refundId: string; reason: string }>
  | Command<'OpenDispute', { disputeId: string; amountCents: number; reason: string }>
  | Command<'ResolveDispute', { disputeId: string; outcome: 'won' | 'lost' }>
  | Command<'FlagForReview', { stage: 'charge' | 'payout' | 'refund'; attempts: number; reason: string }>
  | Command<'WriteOff', { reason: string }>
  | Command<'ClosePayment', Record<string, never>>;
