import type { Knex } from 'knex';
import { PAYMENT_STREAM } from '../../domain/payment/stream.js';
import type { Account } from './projector.js';

/** One posted line of `ledger_entries`; cents are bigint columns, so pg hands them back as text. */
export interface LedgerEntryRow {
  event_id: string;
  line: number;
  payment_id: string;
  event_type: string;
  position: string;
  account: Account;
  org_id: string | null;
  debit_cents: string;
  credit_cents: string;
  currency: string;
  at: Date;
}

export interface AccountBalance {
  account: Account;
  debitCents: number;
  creditCents: number;
  balanceCents: number;
}

export interface LedgerBalances {
  currency: 'usd';
  accounts: AccountBalance[];
  /** Debits less credits over every account: 0 while the books balance. */
  totalCents: number;
}

/** Balances by account, of the whole ledger or of one organisation's side of it. */
export async function ledgerBalances(knex: Knex, orgId?: string): Promise<LedgerBalances> {
  const q = knex('ledger_entries')
    .select('account')
    .sum({ debit: 'debit_cents', credit: 'credit_cents' })
    .groupBy('account')
    .orderBy('account');
  if (orgId) q.where({ org_id: orgId });
  const rows = (await q) as unknown as { account: Account; debit: string; credit: string }[];
  const accounts = rows.map((r) => ({
    account: r.account,
    debitCents: Number(r.debit),
    creditCents: Number(r.credit),
    balanceCents: Number(r.debit) - Number(r.credit),
  }));
  return { currency: 'usd', accounts, totalCents: accounts.reduce((s, a) => s + a.balanceCents, 0) };
}

/** A payment's entries in the order its events posted them. */
export function entriesOfPayment(knex: Knex, paymentId: string): Promise<LedgerEntryRow[]> {
  return knex('ledger_entries')
    .where({ payment_id: paymentId })
    .orderBy([{ column: 'revision' }, { column: 'line' }])
    .select<LedgerEntryRow[]>('*');
}

/** An organisation's entries, newest first; a payment's lines of one time stay together and in order. */
export function entriesOfOrganisation(knex: Knex, orgId: string, limit: number): Promise<LedgerEntryRow[]> {
  return knex('ledger_entries')
    .where({ org_id: orgId })
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'payment_id' },
      { column: 'revision', order: 'desc' },
      { column: 'line' },
    ])
    .limit(limit)
    .select<LedgerEntryRow[]>('*');
}

/** A payment stream's last event, with its invoice's parties and amounts once there is one. */
export interface PaymentListRow {
  stream_id: string;
  last_event_type: string;
  last_revision: string;
  last_event_at: Date;
  shipper_org_id: string | null;
  carrier_org_id: string | null;
  payable_cents: string | null;
  fee_cents: string | null;
}

/**
 * Payments, the most recently changed first. Driven by the stream index, not `ledger_payments`:
 * the ledger learns of a payment only when it is invoiced, and this list shows every payment.
 */
export async function recentPayments(knex: Knex, opts: { limit: number; before?: Date }): Promise<PaymentListRow[]> {
  const q = knex('stream_index as s')
    .leftJoin(
      'ledger_payments as p',
      'p.payment_id',
      knex.raw(`substr(s.stream_id, ${PAYMENT_STREAM.length + 1})::uuid`),
    )
    .where('s.category', 'payment')
    .orderBy([
      { column: 's.last_event_at', order: 'desc' },
      { column: 's.stream_id', order: 'desc' },
    ])
    .limit(opts.limit)
    .select('s.stream_id', 's.last_event_type', 's.last_revision', 's.last_event_at')
    .select('p.shipper_org_id', 'p.carrier_org_id', 'p.payable_cents', 'p.fee_cents');
  if (opts.before) q.where('s.last_event_at', '<', opts.before);
  return (await q) as PaymentListRow[];
}

/** The payment whose charge the provider knows by `ref`: Stripe's dispute webhooks name the charge, not the payment. */
export async function paymentOfCharge(knex: Knex, ref: string): Promise<string | undefined> {
  const row = await knex('ledger_payments').where({ charge_ref: ref }).first<{ payment_id: string } | undefined>();
  return row?.payment_id;
}
