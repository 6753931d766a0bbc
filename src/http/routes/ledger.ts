import { z } from 'zod';
import { AccessDenied } from '../../auth/errors.js';
import { isAdmin } from '../../domain/shared/actor.js';
import { ACCOUNTS } from '../../read-models/ledger/projector.js';
import { uuidParam } from '../commands.js';
import { defineRoute, type Route } from '../route.js';
import { minPositionQuery, readAfter, type ReadDeps } from '../read.js';
import { PAYMENT_STREAM, paymentIdOf } from '../../domain/payment/stream.js';

const balance = z.object({ account: z.enum(ACCOUNTS), debitCents: z.number().int(), creditCents: z.number().int(), balanceCents: z.number().int() });
const entry = z
  .object({
    eventId: z.uuid(),
    line: z.number().int(),
    paymentId: z.uuid(),
    eventType: z.string(),
    position: z.string(),
    account: z.enum(ACCOUNTS),
    orgId: z.uuid().nullable(),
    debitCents: z.number().int(),
    creditCents: z.number().int(),
    currency: z.string(),
    at: z.string(),
  })
  .meta({ id: 'LedgerEntry' });
const balances = z
  .object({ currency: z.string(), accounts: z.array(balance), totalCents: z.number().int().meta({ description: 'Debits less credits over every account: always 0' }) })
  .meta({ id: 'LedgerBalances' });

type Row = { event_id: string; line: number; payment_id: string; event_type: string; position: string; account: (typeof ACCOUNTS)[number]; org_id: string | null; debit_cents: string; credit_cents: string; currency: string; at: Date };
const toEntry = (r: Row) => ({
  eventId: r.event_id,
  line: r.line,
  paymentId: r.payment_id,
  eventType: r.event_type,
  position: r.position,
  account: r.account,
  orgId: r.org_id,
  debitCents: Number(r.debit_cents),
  creditCents: Number(r.credit_cents),
  currency: r.currency,
  at: new Date(r.at).toISOString(),
});
const finance = (roles: readonly string[]) => roles.includes('admin') || roles.includes('auditor');

/** Finance dashboards: balances by account, and the entries of a payment or an organisation. */
export function ledgerRoutes(deps: ReadDeps): Route[] {
  async function balancesOf(where: { org_id?: string }) {
    const q = deps.knex('ledger_entries').select('account').sum({ debit: 'debit_cents', credit: 'credit_cents' }).groupBy('account').orderBy('account');
    if (where.org_id) q.where({ org_id: where.org_id });
    const rows = (await q) as unknown as { account: (typeof ACCOUNTS)[number]; debit: string; credit: string }[];
    const accounts = rows.map((r) => ({ account: r.account, debitCents: Number(r.debit), creditCents: Number(r.credit), balanceCents: Number(r.debit) - Number(r.credit) }));
    return { currency: 'usd', accounts, totalCents: accounts.reduce((s, a) => s + a.balanceCents, 0) };
  }
  return [
    defineRoute({
      method: 'get',
      path: '/payments',
      operationId: 'listPayments',
      summary: 'Payments, the most recently changed first: the last event of each and its invoice',
      description: 'From the stream index and the ledger (read models). Page with `before`: the `updatedAt` of the last one seen. Each payment\'s full history is GET /audit/payments/{paymentId}.',
      tags: ['Payments'],
      roles: ['admin', 'auditor'],
      query: z.object({
        limit: z.coerce.number().int().min(1).max(200).default(50),
        before: z.iso.datetime({ offset: true }).optional().meta({ description: 'Only payments last changed before this time' }),
        minPosition: minPositionQuery,
      }),
      responses: {
        200: {
          description: 'Payments',
          schema: z.object({
            items: z.array(
              z
                .object({
                  paymentId: z.uuid(),
                  lastEvent: z.string(),
                  revision: z.string(),
                  updatedAt: z.string(),
                  shipperOrgId: z.uuid().nullable(),
                  carrierOrgId: z.uuid().nullable(),
                  payableCents: z.number().int().nullable().meta({ description: "The carrier's share, once invoiced" }),
                  feeCents: z.number().int().nullable().meta({ description: "The platform's fee, once invoiced" }),
                })
                .meta({ id: 'PaymentListItem' }),
            ),
          }),
        },
      },
      async handle({ query }) {
        await readAfter(deps, 'stream_index', query.minPosition);
        const q = deps
          .knex('stream_index as s')
          .leftJoin('ledger_payments as p', 'p.payment_id', deps.knex.raw(`substr(s.stream_id, ${PAYMENT_STREAM.length + 1})::uuid`))
          .where('s.category', 'payment')
          .orderBy([{ column: 's.last_event_at', order: 'desc' }, { column: 's.stream_id', order: 'desc' }])
          .limit(query.limit)
          .select('s.stream_id', 's.last_event_type', 's.last_revision', 's.last_event_at', 'p.shipper_org_id', 'p.carrier_org_id', 'p.payable_cents', 'p.fee_cents');
        if (query.before) q.where('s.last_event_at', '<', new Date(query.before));
        const rows = (await q) as {
          stream_id: string;
          last_event_type: string;
          last_revision: string;
          last_event_at: Date;
          shipper_org_id: string | null;
          carrier_org_id: string | null;
          payable_cents: string | null;
          fee_cents: string | null;
        }[];
        return {
          status: 200,
          body: {
            items: rows.map((r) => ({
              paymentId: paymentIdOf(r.stream_id),
              lastEvent: r.last_event_type,
              revision: String(r.last_revision),
              updatedAt: new Date(r.last_event_at).toISOString(),
              shipperOrgId: r.shipper_org_id,
              carrierOrgId: r.carrier_org_id,
              payableCents: r.payable_cents === null ? null : Number(r.payable_cents),
              feeCents: r.fee_cents === null ? null : Number(r.fee_cents),
            })),
          },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/ledger/balances',
      operationId: 'ledgerBalances',
      summary: 'Balances of every ledger account (debits less credits); they sum to zero',
      tags: ['Ledger'],
      roles: ['admin', 'auditor'],
      query: z.object({ minPosition: minPositionQuery }),
      responses: { 200: { description: 'Balances', schema: balances } },
      async handle({ query }) {
        await readAfter(deps, 'ledger', query.minPosition);
        return { status: 200, body: await balancesOf({}) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/ledger/payments/{paymentId}',
      operationId: 'ledgerOfPayment',
      summary: "A payment's ledger entries, in order",
      tags: ['Ledger'],
      roles: ['admin', 'auditor'],
      params: z.object({ paymentId: uuidParam('The payment') }),
      query: z.object({ minPosition: minPositionQuery }),
      responses: { 200: { description: 'Entries', schema: z.object({ entries: z.array(entry) }) } },
      async handle({ params, query }) {
        await readAfter(deps, 'ledger', query.minPosition);
        const rows = await deps.knex('ledger_entries').where({ payment_id: params.paymentId }).orderBy([{ column: 'revision' }, { column: 'line' }]).select<Row[]>('*');
        return { status: 200, body: { entries: rows.map(toEntry) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/ledger/orgs/{orgId}',
      operationId: 'ledgerOfOrganisation',
      summary: "An organisation's side of the ledger: what a shipper owes, what a carrier is owed, and the entries (newest first)",
      tags: ['Ledger'],
      roles: 'any',
      params: z.object({ orgId: uuidParam('The shipper or carrier organisation') }),
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), minPosition: minPositionQuery }),
      responses: { 200: { description: 'Balances and entries', schema: balances.extend({ entries: z.array(entry) }) } },
      async handle({ params, query, actor }) {
        if (actor.orgId !== params.orgId && !isAdmin(actor) && !finance(actor.roles)) throw new AccessDenied("Only the organisation's members see its ledger");
        await readAfter(deps, 'ledger', query.minPosition);
        const rows = await deps.knex('ledger_entries').where({ org_id: params.orgId }).orderBy([{ column: 'at', order: 'desc' }, { column: 'payment_id' }, { column: 'revision', order: 'desc' }, { column: 'line' }]).limit(query.limit).select<Row[]>('*');
        return { status: 200, body: { ...(await balancesOf({ org_id: params.orgId })), entries: rows.map(toEntry) } };
      },
    }),
  ];
}
