import { z } from 'zod';
import { isoDateTime } from '../shared/codecs.js';
import { defineEvent, EventRegistry, type EventsOf } from '../shared/event-schema.js';

const at = isoDateTime;
/** Integer cents, never negative (a zero QuickPay fee is possible in principle; amounts are sized by type). */
const amount = z.number().int().min(0).max(1_000_000_000);
export const currency = z.enum(['usd']);
export const payoutTerms = z.enum(['standard', 'quickpay']);

/**
 * A load settlement (`payment-<id>`): the shipper is charged the load's rate; the carrier is paid
 * that less the platform's fee. Every money movement is an event, and the amounts reconcile:
 * invoice amount = carrier payable + platform fee + refunds, at all times, and once charged,
 * charged = invoice amount.
 */
export const InvoiceIssued = defineEvent({
  type: 'InvoiceIssued',
  schema: z.object({
    paymentId: z.uuid(),
    loadId: z.uuid(),
    shipperOrgId: z.uuid(),
    carrierId: z.uuid(),
    carrierOrgId: z.uuid(),
    currency,
    amountCents: amount,
    platformFeeCents: amount,
    carrierPayableCents: amount,
    /** Standard payout terms: the carrier is paid this many days after delivery. */
    termsDays: z.number().int().min(0).max(120),
    deliveredAt: at,
    issuedAt: at,
  }),
});
export const ChargeRequested = defineEvent({
  type: 'ChargeRequested',
  schema: z.object({ chargeId: z.uuid(), attempt: z.number().int().min(1), amountCents: amount, requestedAt: at }),
});
export const ChargeSucceeded = defineEvent({
  type: 'ChargeSucceeded',
  schema: z.object({
    chargeId: z.uuid(),
    providerRef: z.string().min(1).max(255),
    amountCents: amount,
    succeededAt: at,
  }),
});
export const ChargeFailed = defineEvent({
  type: 'ChargeFailed',
  schema: z.object({ chargeId: z.uuid(), reason: z.string().min(1).max(500), failedAt: at }),
});
export const QuickPayRequested = defineEvent({
  type: 'QuickPayRequested',
  schema: z.object({ feeCents: amount, requestedBy: z.string(), requestedAt: at }),
});
export const PayoutRequested = defineEvent({
  type: 'PayoutRequested',
  schema: z.object({
    payoutId: z.uuid(),
    attempt: z.number().int().min(1),
    terms: payoutTerms,
    amountCents: amount,
    dueAt: at,
    requestedAt: at,
  }),
});
export const PayoutSent = defineEvent({
  type: 'PayoutSent',
  schema: z.object({ payoutId: z.uuid(), providerRef: z.string().min(1).max(255), amountCents: amount, sentAt: at }),
});
export const PayoutFailed = defineEvent({
  type: 'PayoutFailed',
  schema: z.object({ payoutId: z.uuid(), reason: z.string().min(1).max(500), failedAt: at }),
});
/** Money returned to the shipper; its split says whose share it comes out of. */
export const RefundIssued = defineEvent({
  type: 'RefundIssued',
  schema: z.object({
    refundId: z.uuid(),
    amountCents: amount,
    fromCarrierCents: amount,
    fromPlatformCents: amount,
    reason: z.string().min(1).max(500),
    issuedBy: z.string(),
    issuedAt: at,
  }),
});
/** The provider returned a refund's money to the shipper. */
export const RefundSent = defineEvent({
  type: 'RefundSent',
  schema: z.object({ refundId: z.uuid(), providerRef: z.string().min(1).max(255), amountCents: amount, sentAt: at }),
});
export const RefundFailed = defineEvent({
  type: 'RefundFailed',
  schema: z.object({ refundId: z.uuid(), reason: z.string().min(1).max(500), failedAt: at }),
});
export const DisputeOpened = defineEvent({
  type: 'DisputeOpened',
  schema: z.object({
    disputeId: z.string().min(1).max(255),
    amountCents: amount,
    reason: z.string().min(1).max(500),
    openedAt: at,
  }),
});
/** Lost, the disputed amount is gone: like a refund, from the platform's share first. */
export const DisputeResolved = defineEvent({
  type: 'DisputeResolved',
  schema: z.object({
    disputeId: z.string().min(1).max(255),
    outcome: z.enum(['won', 'lost']),
    fromCarrierCents: amount,
    fromPlatformCents: amount,
    resolvedAt: at,
  }),
});
/** Half done after the bounded attempts (a charge that keeps failing, a payout that will not go): for a person. */
export const PaymentFlaggedForReview = defineEvent({
  type: 'PaymentFlaggedForReview',
  schema: z.object({
    stage: z.enum(['charge', 'payout', 'refund']),
    attempts: z.number().int().min(1),
    reason: z.string().min(1).max(500),
    flaggedAt: at,
  }),
});
export const PaymentWrittenOff = defineEvent({
  type: 'PaymentWrittenOff',
  schema: z.object({
    amountCents: amount,
    reason: z.string().min(1).max(500),
    writtenOffBy: z.string(),
    writtenOffAt: at,
  }),
});
export const PaymentClosed = defineEvent({ type: 'PaymentClosed', schema: z.object({ closedAt: at }) });

export const paymentEventDefinitions = [
  InvoiceIssued,
  ChargeRequested,
  ChargeSucceeded,
  ChargeFailed,
  QuickPayRequested,
  PayoutRequested,
  PayoutSent,
  PayoutFailed,
  RefundIssued,
  RefundSent,
  RefundFailed,
  DisputeOpened,
  DisputeResolved,
  PaymentFlaggedForReview,
  PaymentWrittenOff,
  PaymentClosed,
] as const;
export const paymentEvents = new EventRegistry([...paymentEventDefinitions]);
export type PaymentEvent = EventsOf<typeof paymentEventDefinitions>;
