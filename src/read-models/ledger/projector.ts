import type { Knex } from 'knex';
import { type PaymentEvent, paymentEvents } from '../../domain/payment/events.js';
import { formatPosition } from '../../eventstore/position.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { PostgresProjector, TableNames } from '../../projections/types.js';
import { PAYMENT_STREAM, paymentIdOf } from '../../domain/payment/stream.js';
import { type Account, LEDGER_ENTRIES, LEDGER_PAYMENTS, type LedgerEntryRow, type LedgerPaymentRow } from './schema.js';

// The routes have always imported the accounts from here.
export { ACCOUNTS, type Account } from './schema.js';

export interface LedgerLine {
  account: Account;
  orgId: string | null;
  debitCents: number;
  creditCents: number;
}

interface Parties {
  shipperOrgId: string;
  carrierOrgId: string;
  /** The carrier's payable and the platform's fee as posted so far (what a write-off reverses). */
  payableCents: number;
  feeCents: number;
}

const dr = (account: Account, orgId: string | null, cents: number): LedgerLine => ({
  account,
  orgId,
  debitCents: cents,
  creditCents: 0,
});
const cr = (account: Account, orgId: string | null, cents: number): LedgerLine => ({
  account,
  orgId,
  debitCents: 0,
  creditCents: cents,
});

/** The lines one payment event posts (pure). */
export function linesOf(e: PaymentEvent, p: Parties | undefined): LedgerLine[] {
  if (e.type === 'InvoiceIssued') {
    const d = e.data;
    return [
      dr('shipper_receivable', d.shipperOrgId, d.amountCents),
      cr('carrier_payable', d.carrierOrgId, d.carrierPayableCents),
      cr('platform_fee_revenue', null, d.platformFeeCents),
    ];
  }
  if (!p) return [];
  switch (e.type) {
    case 'ChargeSucceeded':
      return [dr('cash', null, e.data.amountCents), cr('shipper_receivable', p.shipperOrgId, e.data.amountCents)];
    case 'QuickPayRequested':
      return [
        dr('carrier_payable', p.carrierOrgId, e.data.feeCents),
        cr('platform_fee_revenue', null, e.data.feeCents),
      ];
    case 'PayoutSent':
      return [dr('carrier_payable', p.carrierOrgId, e.data.amountCents), cr('cash', null, e.data.amountCents)];
    case 'RefundIssued':
      return [
        dr('carrier_payable', p.carrierOrgId, e.data.fromCarrierCents),
        dr('platform_fee_revenue', null, e.data.fromPlatformCents),
        cr('refund_payable', p.shipperOrgId, e.data.amountCents),
      ];
    case 'RefundSent':
      return [dr('refund_payable', p.shipperOrgId, e.data.amountCents), cr('cash', null, e.data.amountCents)];
    case 'DisputeResolved': {
      if (e.data.outcome === 'won') return [];
      const amount = e.data.fromCarrierCents + e.data.fromPlatformCents;
      return [
        dr('carrier_payable', p.carrierOrgId, e.data.fromCarrierCents),
        dr('platform_fee_revenue', null, e.data.fromPlatformCents),
        cr('cash', null, amount),
      ];
    }
    case 'PaymentWrittenOff':
      // Never charged: the invoice is reversed (the carrier is not paid for a load the shipper never paid).
      return [
        dr('carrier_payable', p.carrierOrgId, p.payableCents),
        dr('platform_fee_revenue', null, p.feeCents),
        cr('shipper_receivable', p.shipperOrgId, e.data.amountCents),
      ];
    case 'ChargeRequested':
    case 'ChargeFailed':
    case 'RefundFailed':
    case 'PayoutRequested':
    case 'PayoutFailed':
    case 'DisputeOpened':
    case 'PaymentFlaggedForReview':
    case 'PaymentClosed':
      return [];
    default: {
      const unknown: never = e;
      throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
    }
  }
}

const applyLines = (p: Parties, lines: LedgerLine[]): Parties => ({
  ...p,
  payableCents:
    p.payableCents +
    lines.filter((l) => l.account === 'carrier_payable').reduce((s, l) => s + l.creditCents - l.debitCents, 0),
  feeCents:
    p.feeCents +
    lines.filter((l) => l.account === 'platform_fee_revenue').reduce((s, l) => s + l.creditCents - l.debitCents, 0),
});

/**
 * The ledger: double entry for every money movement of the payment streams. Accounts:
 * shipper_receivable (what shippers owe, per shipper org), cash (the platform's balance at the
 * provider), carrier_payable (what carriers are owed, per carrier org), refund_payable (refunds
 * issued to a shipper and not yet sent back, per shipper org) and platform_fee_revenue.
 * Each event posts lines whose debits equal their credits, so every balance sums to zero.
 */
export const ledgerProjector: PostgresProjector = {
  kind: 'postgres',
  name: 'ledger',
  version: 1,
  // Books that silently miss an entry misstate every balance after it: stop until an operator decides.
  onPoison: 'stop',
  eventTypes: paymentEvents.types(),
  streamPrefixes: [PAYMENT_STREAM],
  tables: [LEDGER_ENTRIES.name, LEDGER_PAYMENTS.name],

  async setup(trx: Knex.Transaction, t: TableNames) {
    await LEDGER_ENTRIES.create(trx, t);
    await trx.raw('create index on ?? (payment_id, revision, line)', [t('ledger_entries')]);
    await trx.raw('create index on ?? (org_id, account, at) where org_id is not null', [t('ledger_entries')]);
    await trx.raw('create index on ?? (account)', [t('ledger_entries')]);
    await LEDGER_PAYMENTS.create(trx, t);
  },

  async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames) {
    const payments = t('ledger_payments');
    const ids = [...new Set(events.map((e) => paymentIdOf(e.streamId)))];
    const parties = new Map<string, Parties & { revision: bigint; chargeRef: string | null }>();
    for (const r of await trx(payments).whereIn('payment_id', ids).select('*')) {
      parties.set(r.payment_id, {
        shipperOrgId: r.shipper_org_id,
        carrierOrgId: r.carrier_org_id,
        payableCents: Number(r.payable_cents),
        feeCents: Number(r.fee_cents),
        revision: BigInt(r.revision),
        chargeRef: r.charge_ref,
      });
    }
    const rows: LedgerEntryRow[] = [];
    for (const e of events) {
      const paymentId = paymentIdOf(e.streamId);
      const p = parties.get(paymentId);
      if (p && e.revision <= p.revision) continue;
      const event = { type: e.type, data: paymentEvents.decode(e) } as PaymentEvent;
      const lines = linesOf(event, p);
      lines.forEach((l, i) => {
        if (l.debitCents === 0 && l.creditCents === 0) return;
        rows.push({
          event_id: e.id,
          line: i,
          payment_id: paymentId,
          revision: e.revision.toString(),
          event_type: e.type,
          position: formatPosition(e.position),
          account: l.account,
          org_id: l.orgId,
          debit_cents: l.debitCents,
          credit_cents: l.creditCents,
          currency: 'usd',
          at: e.createdAt,
        });
      });
      const base =
        event.type === 'InvoiceIssued'
          ? {
              shipperOrgId: event.data.shipperOrgId,
              carrierOrgId: event.data.carrierOrgId,
              payableCents: 0,
              feeCents: 0,
              chargeRef: null,
            }
          : p;
      const chargeRef = event.type === 'ChargeSucceeded' ? event.data.providerRef : (base?.chargeRef ?? null);
      if (base) parties.set(paymentId, { ...applyLines(base, lines), revision: e.revision, chargeRef });
    }
    if (rows.length) await trx(t('ledger_entries')).insert(rows).onConflict(['event_id', 'line']).ignore();
    const changed = [...parties].map(([paymentId, p]): LedgerPaymentRow => ({
      payment_id: paymentId,
      shipper_org_id: p.shipperOrgId,
      carrier_org_id: p.carrierOrgId,
      payable_cents: p.payableCents,
      fee_cents: p.feeCents,
      revision: p.revision.toString(),
      charge_ref: p.chargeRef,
    }));
    if (changed.length) await trx(payments).insert(changed).onConflict('payment_id').merge();
  },
};
