import { type Actor, isAdmin } from '../shared/actor.js';
import { Forbidden, IllegalTransition, RuleViolation } from '../shared/errors.js';
import type { PaymentCommand } from './commands.js';
import type { PaymentEvent } from './events.js';
import type { PaymentState, Settlement } from './state.js';

export type { PaymentCommand } from './commands.js';
export type { PaymentState, Settlement } from './state.js';

export const initialState: PaymentState = { status: 'none' };
export { authorize } from './access.js';

/** Where a settlement stands, for people: invoiced → charging → charged → paid out → closed. */
export function stageOf(
  state: PaymentState,
): 'none' | 'invoiced' | 'charging' | 'charged' | 'paying_out' | 'paid_out' | 'written_off' | 'closed' {
  if (state.status !== 'open') return state.status;
  const s = state.settlement;
  if (s.payout.sentAt) return 'paid_out';
  if (s.payout.pending) return 'paying_out';
  if (s.chargedCents > 0) return 'charged';
  if (s.charge.pending) return 'charging';
  return 'invoiced';
}

/** The books balance: invoice = payable + fee + refunds; and once charged, charged = invoice. */
export function reconciles(state: PaymentState): boolean {
  if (state.status === 'none') return true;
  const s = state.settlement;
  const split = s.payableCents + s.feeCents + s.refundedCents === s.amountCents;
  return (
    split &&
    (s.chargedCents === 0 || s.chargedCents === s.amountCents) &&
    s.payableCents >= 0 &&
    s.payout.sentCents <= s.amountCents
  );
}

const DAY = 86_400_000;
/** When the carrier is to be paid: QuickPay at once (within a day), else the standard terms after delivery. */
export const payoutDueAt = (s: Settlement): Date =>
  s.quickPayAt ?? new Date(s.deliveredAt.getTime() + s.termsDays * DAY);

const system = (a: Actor) => isAdmin(a);
function open(state: PaymentState, doing: string): Settlement {
  if (state.status === 'none') throw new IllegalTransition(`Cannot ${doing}: there is no invoice`);
  if (state.status !== 'open')
    throw new IllegalTransition(`Cannot ${doing}: the payment is ${state.status.replace('_', ' ')}`);
  return state.settlement;
}
/** A loss's split: the platform's share first, then the carrier's while unpaid; a paid-out carrier keeps its money and the platform takes the loss. */
function lossSplit(s: Settlement, amount: number): { fromCarrierCents: number; fromPlatformCents: number } {
  if (s.payout.sentAt) return { fromCarrierCents: 0, fromPlatformCents: amount };
  const fromPlatform = Math.min(amount, Math.max(0, s.feeCents));
  return { fromCarrierCents: amount - fromPlatform, fromPlatformCents: fromPlatform };
}

export function decide(command: PaymentCommand, state: PaymentState): PaymentEvent[] {
  const { now, actor } = command.metadata;
  const events = decideOnly(command, state, now, actor);
  // A decision that would unbalance the books is a bug, never a state to store.
  const after = events.reduce(evolve, state);
  if (!reconciles(after)) throw new Error(`${command.type} would leave payment amounts that do not reconcile`);
  return events;
}

function decideOnly(command: PaymentCommand, state: PaymentState, now: Date, actor: Actor): PaymentEvent[] {
  switch (command.type) {
    case 'IssueInvoice': {
      if (!system(actor)) throw new Forbidden('invoices are issued by the platform');
      const d = command.data;
      if (state.status !== 'none') {
        if (state.settlement.loadId === d.loadId) return [];
        throw new IllegalTransition('Cannot invoice: this payment already has an invoice');
      }
      if (d.amountCents <= 0) throw new RuleViolation('invalid-amount', 'An invoice needs a positive amount');
      const platformFeeCents = Math.round((d.amountCents * d.feeBps) / 10_000);
      return [
        {
          type: 'InvoiceIssued',
          data: {
            paymentId: d.paymentId,
            loadId: d.loadId,
            shipperOrgId: d.shipperOrgId,
            carrierId: d.carrierId,
            carrierOrgId: d.carrierOrgId,
            currency: 'usd',
            amountCents: d.amountCents,
            platformFeeCents,
            carrierPayableCents: d.amountCents - platformFeeCents,
            termsDays: d.termsDays,
            deliveredAt: d.deliveredAt,
            issuedAt: now,
          },
        },
      ];
    }
    case 'RequestCharge': {
      if (!system(actor)) throw new Forbidden('charges are requested by the platform');
      const s = open(state, 'charge');
      if (s.chargedCents > 0) throw new IllegalTransition('Cannot charge: the shipper was already charged');
      if (s.charge.pending) return [];
      return [
        {
          type: 'ChargeRequested',
          data: {
            chargeId: command.data.chargeId,
            attempt: s.charge.attempts + 1,
            amountCents: s.amountCents,
            requestedAt: now,
          },
        },
      ];
    }
    case 'RecordChargeSucceeded': {
      if (!system(actor)) throw new Forbidden('charge results come from the payment provider');
      const s = open(state, 'record a charge');
      if (s.chargedCents > 0) return [];
      if (s.charge.pending !== command.data.chargeId)
        throw new IllegalTransition(`Charge ${command.data.chargeId} is not the one under way`);
      return [
        {
          type: 'ChargeSucceeded',
          data: {
            chargeId: command.data.chargeId,
            providerRef: command.data.providerRef,
            amountCents: s.amountCents,
            succeededAt: now,
          },
        },
      ];
    }
    case 'RecordChargeFailed': {
      if (!system(actor)) throw new Forbidden('charge results come from the payment provider');
      const s = open(state, 'record a charge');
      if (s.charge.pending !== command.data.chargeId) return [];
      return [
        { type: 'ChargeFailed', data: { chargeId: command.data.chargeId, reason: command.data.reason, failedAt: now } },
      ];
    }
    case 'RequestQuickPay': {
      const s = open(state, 'request QuickPay');
      if (!isAdmin(actor) && actor.orgId !== s.carrierOrgId)
        throw new Forbidden("only the carrier's own organisation may ask for QuickPay");
      if (s.quickPayAt) throw new RuleViolation('quickpay-twice', 'QuickPay was already requested for this load');
      if (s.payout.pending || s.payout.sentAt)
        throw new IllegalTransition('Cannot switch to QuickPay: the payout is already under way');
      const fee = Math.min(
        s.payableCents,
        Math.max(command.data.minFeeCents, Math.round((s.payableCents * command.data.feeBps) / 10_000)),
      );
      return [{ type: 'QuickPayRequested', data: { feeCents: fee, requestedBy: actor.userId, requestedAt: now } }];
    }
    case 'RequestPayout': {
      if (!system(actor)) throw new Forbidden('payouts are requested by the platform');
      const s = open(state, 'pay out');
      if (s.chargedCents === 0)
        throw new RuleViolation('not-charged', 'Cannot pay the carrier before the shipper’s charge succeeded');
      if (s.payout.sentAt) throw new IllegalTransition('Cannot pay out: the carrier was already paid');
      if (s.payout.pending) return [];
      if (Object.values(s.disputes).some((d) => d.open))
        throw new RuleViolation('disputed', 'The payout waits while a dispute is open');
      const due = payoutDueAt(s);
      if (now.getTime() < due.getTime()) throw new RuleViolation('not-due', `The payout is due ${due.toISOString()}`);
      return [
        {
          type: 'PayoutRequested',
          data: {
            payoutId: command.data.payoutId,
            attempt: s.payout.attempts + 1,
            terms: s.quickPayAt ? 'quickpay' : 'standard',
            amountCents: s.payableCents,
            dueAt: due,
            requestedAt: now,
          },
        },
      ];
    }
    case 'RecordPayoutSent': {
      if (!system(actor)) throw new Forbidden('payout results come from the payment provider');
      const s = open(state, 'record a payout');
      if (s.payout.sentAt) return [];
      if (s.payout.pending?.payoutId !== command.data.payoutId)
        throw new IllegalTransition(`Payout ${command.data.payoutId} is not the one under way`);
      return [
        {
          type: 'PayoutSent',
          data: {
            payoutId: command.data.payoutId,
            providerRef: command.data.providerRef,
            amountCents: s.payout.pending.amountCents,
            sentAt: now,
          },
        },
      ];
    }
    case 'RecordPayoutFailed': {
      if (!system(actor)) throw new Forbidden('payout results come from the payment provider');
      const s = open(state, 'record a payout');
      if (s.payout.pending?.payoutId !== command.data.payoutId) return [];
      return [
        { type: 'PayoutFailed', data: { payoutId: command.data.payoutId, reason: command.data.reason, failedAt: now } },
      ];
    }
    case 'IssueRefund': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin issues a refund');
      const s = open(state, 'refund');
      const { amountCents, refundId, reason } = command.data;
      if (s.refunds[refundId]) return [];
      if (s.chargedCents === 0)
        throw new RuleViolation('not-charged', 'Nothing was charged, so nothing can be refunded');
      const disputed = Object.values(s.disputes).reduce((sum, d) => sum + (d.open ? d.amountCents : 0), 0);
      const refundable = s.chargedCents - s.refundedCents - disputed;
      if (amountCents <= 0 || amountCents > refundable)
        throw new RuleViolation('refund-too-large', `At most ${refundable} cents can be refunded`);
      const split =
        command.data.fromCarrierCents === undefined
          ? lossSplit(s, amountCents)
          : {
              fromCarrierCents: command.data.fromCarrierCents,
              fromPlatformCents: amountCents - command.data.fromCarrierCents,
            };
      if (split.fromCarrierCents < 0 || split.fromPlatformCents < 0)
        throw new RuleViolation('invalid-split', "The carrier's share of a refund must lie between 0 and the refund");
      if (split.fromCarrierCents > 0 && (s.payout.sentAt || s.payout.pending))
        throw new RuleViolation(
          'invalid-split',
          'The carrier was paid (or is being paid): its share cannot shrink now',
        );
      if (split.fromCarrierCents > s.payableCents)
        throw new RuleViolation('invalid-split', `The carrier is owed only ${s.payableCents} cents`);
      if (split.fromPlatformCents > Math.max(0, s.feeCents))
        throw new RuleViolation('invalid-split', `The platform kept only ${s.feeCents} cents`);
      return [
        {
          type: 'RefundIssued',
          data: { refundId, amountCents, ...split, reason, issuedBy: actor.userId, issuedAt: now },
        },
      ];
    }
    case 'RecordRefundSent':
    case 'RecordRefundFailed': {
      if (!system(actor)) throw new Forbidden('refund results come from the payment provider');
      if (state.status === 'none') throw new IllegalTransition('Cannot record a refund: there is no invoice');
      const r = state.settlement.refunds[command.data.refundId];
      if (!r) throw new IllegalTransition(`No refund ${command.data.refundId}`);
      if (r.sent) return [];
      return command.type === 'RecordRefundSent'
        ? [
            {
              type: 'RefundSent',
              data: {
                refundId: command.data.refundId,
                providerRef: command.data.providerRef,
                amountCents: r.amountCents,
                sentAt: now,
              },
            },
          ]
        : [
            {
              type: 'RefundFailed',
              data: { refundId: command.data.refundId, reason: command.data.reason, failedAt: now },
            },
          ];
    }
    case 'OpenDispute': {
      if (!system(actor)) throw new Forbidden('disputes come from the payment provider');
      const s = open(state, 'open a dispute');
      if (s.disputes[command.data.disputeId]) return [];
      if (s.chargedCents === 0) throw new RuleViolation('not-charged', 'Nothing was charged to dispute');
      const amountCents = Math.min(command.data.amountCents, s.chargedCents - s.refundedCents);
      return [
        {
          type: 'DisputeOpened',
          data: { disputeId: command.data.disputeId, amountCents, reason: command.data.reason, openedAt: now },
        },
      ];
    }
    case 'ResolveDispute': {
      if (!system(actor)) throw new Forbidden('disputes come from the payment provider');
      const s = open(state, 'resolve a dispute');
      const d = s.disputes[command.data.disputeId];
      if (!d) throw new IllegalTransition(`No dispute ${command.data.disputeId}`);
      if (!d.open) return [];
      const split =
        command.data.outcome === 'lost' ? lossSplit(s, d.amountCents) : { fromCarrierCents: 0, fromPlatformCents: 0 };
      return [
        {
          type: 'DisputeResolved',
          data: { disputeId: command.data.disputeId, outcome: command.data.outcome, ...split, resolvedAt: now },
        },
      ];
    }
    case 'FlagForReview': {
      if (!system(actor)) throw new Forbidden('payments are flagged by the platform');
      const s = open(state, 'flag');
      if (s.flagged?.stage === command.data.stage) return [];
      return [{ type: 'PaymentFlaggedForReview', data: { ...command.data, flaggedAt: now } }];
    }
    case 'WriteOff': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin writes a payment off');
      const s = open(state, 'write off');
      if (s.chargedCents > 0) throw new IllegalTransition('Cannot write off: the shipper was charged');
      return [
        {
          type: 'PaymentWrittenOff',
          data: {
            amountCents: s.amountCents,
            reason: command.data.reason,
            writtenOffBy: actor.userId,
            writtenOffAt: now,
          },
        },
      ];
    }
    case 'ClosePayment': {
      if (!system(actor)) throw new Forbidden('payments are closed by the platform');
      if (state.status === 'closed') return [];
      if (state.status === 'written_off') return [{ type: 'PaymentClosed', data: { closedAt: now } }];
      const s = open(state, 'close');
      const settled = s.payout.sentAt !== undefined || s.payableCents === 0;
      if (!settled || s.chargedCents === 0 || Object.values(s.disputes).some((d) => d.open)) {
        throw new IllegalTransition('Cannot close: the payment is not settled (charge, payout, or an open dispute)');
      }
      return [{ type: 'PaymentClosed', data: { closedAt: now } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

export function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  if (event.type === 'InvoiceIssued') {
    const d = event.data;
    return {
      status: 'open',
      settlement: {
        paymentId: d.paymentId,
        loadId: d.loadId,
        shipperOrgId: d.shipperOrgId,
        carrierId: d.carrierId,
        carrierOrgId: d.carrierOrgId,
        currency: d.currency,
        amountCents: d.amountCents,
        termsDays: d.termsDays,
        deliveredAt: d.deliveredAt,
        payableCents: d.carrierPayableCents,
        feeCents: d.platformFeeCents,
        refundedCents: 0,
        chargedCents: 0,
        charge: { attempts: 0 },
        refunds: {},
        payout: { attempts: 0, sentCents: 0 },
        disputes: {},
      },
    };
  }
  if (state.status === 'none') return state;
  const s = state.settlement;
  const with_ = (next: Partial<Settlement>): PaymentState => ({ ...state, settlement: { ...s, ...next } });
  switch (event.type) {
    case 'ChargeRequested':
      return with_({ charge: { ...s.charge, attempts: event.data.attempt, pending: event.data.chargeId } });
    case 'ChargeSucceeded': {
      const { pending: _done, ...charge } = s.charge;
      const { flagged: _cleared, ...rest } = s;
      return {
        ...state,
        settlement: {
          ...rest,
          chargedCents: event.data.amountCents,
          charge: { ...charge, succeededAt: event.data.succeededAt, ref: event.data.providerRef },
        },
      };
    }
    case 'ChargeFailed': {
      const { pending: _failed, ...charge } = s.charge;
      return with_({ charge });
    }
    case 'QuickPayRequested':
      return with_({
        quickPayAt: event.data.requestedAt,
        payableCents: s.payableCents - event.data.feeCents,
        feeCents: s.feeCents + event.data.feeCents,
      });
    case 'PayoutRequested':
      return with_({
        payout: {
          ...s.payout,
          attempts: event.data.attempt,
          pending: { payoutId: event.data.payoutId, amountCents: event.data.amountCents },
        },
      });
    case 'PayoutSent': {
      const { pending: _sent, ...payout } = s.payout;
      const { flagged: _cleared, ...rest } = s;
      return {
        ...state,
        settlement: { ...rest, payout: { ...payout, sentCents: event.data.amountCents, sentAt: event.data.sentAt } },
      };
    }
    case 'PayoutFailed': {
      const { pending: _failed, ...payout } = s.payout;
      return with_({ payout });
    }
    case 'RefundSent':
    case 'RefundFailed': {
      const r = s.refunds[event.data.refundId]!;
      const next = event.type === 'RefundSent' ? { ...r, sent: true } : { ...r, failures: r.failures + 1 };
      return with_({ refunds: { ...s.refunds, [event.data.refundId]: next } });
    }
    case 'RefundIssued':
      return with_({
        refunds: {
          ...s.refunds,
          [event.data.refundId]: { amountCents: event.data.amountCents, sent: false, failures: 0 },
        },
        refundedCents: s.refundedCents + event.data.amountCents,
        payableCents: s.payableCents - event.data.fromCarrierCents,
        feeCents: s.feeCents - event.data.fromPlatformCents,
      });
    case 'DisputeOpened':
      return with_({
        disputes: { ...s.disputes, [event.data.disputeId]: { amountCents: event.data.amountCents, open: true } },
      });
    case 'DisputeResolved': {
      const d = s.disputes[event.data.disputeId]!;
      const lost = event.data.outcome === 'lost';
      return with_({
        disputes: { ...s.disputes, [event.data.disputeId]: { ...d, open: false } },
        ...(lost
          ? {
              refundedCents: s.refundedCents + d.amountCents,
              payableCents: s.payableCents - event.data.fromCarrierCents,
              feeCents: s.feeCents - event.data.fromPlatformCents,
            }
          : {}),
      });
    }
    case 'PaymentFlaggedForReview':
      return with_({ flagged: { stage: event.data.stage, reason: event.data.reason } });
    case 'PaymentWrittenOff':
      return { status: 'written_off', settlement: s };
    case 'PaymentClosed':
      return { status: 'closed', settlement: s };
    default: {
      const unknown: never = event;
      throw new Error(`Unknown event ${(unknown as { type: string }).type}`);
    }
  }
}
