import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

/** The ledger's accounts (projector.ts says what each holds). */
export const ACCOUNTS = [
  'shipper_receivable',
  'cash',
  'carrier_payable',
  'refund_payable',
  'platform_fee_revenue',
] as const;
export type Account = (typeof ACCOUNTS)[number];

// Cents are written as numbers (far below 2^53); pg reads bigint back as text, so readers convert.

/** One line of a posting: an event's lines share its id, numbered from 0. */
export const LEDGER_ENTRIES = defineTable(
  'ledger_entries',
  {
    event_id: col.uuid(),
    line: col.int2(),
    payment_id: col.uuid(),
    /** The event's revision in its payment stream: the order of a payment's entries. */
    revision: col.int8(),
    event_type: col.text(),
    position: col.text(),
    account: col.text<Account>(),
    org_id: col.uuid().nullable(),
    debit_cents: col.int8<number>(),
    credit_cents: col.int8<number>(),
    currency: col.text(),
    at: col.timestamptz(),
  },
  { primary: ['event_id', 'line'] },
);
export type LedgerEntryRow = RowOf<typeof LEDGER_ENTRIES.spec>;

/** Per payment: the parties and running amounts later events post against. */
export const LEDGER_PAYMENTS = defineTable('ledger_payments', {
  payment_id: col.uuid().primary(),
  shipper_org_id: col.uuid(),
  carrier_org_id: col.uuid(),
  payable_cents: col.int8<number>(),
  fee_cents: col.int8<number>(),
  revision: col.int8(),
  /** The provider's charge reference: Stripe webhooks about disputes name the charge, not the payment. */
  charge_ref: col.text().nullable().index(),
});
export type LedgerPaymentRow = RowOf<typeof LEDGER_PAYMENTS.spec>;
