import { z } from 'zod';
import { AccessDenied } from '../../auth/errors.js';
import { isAdmin } from '../../domain/shared/actor.js';
import { ACCOUNTS } from '../../read-models/ledger/projector.js';
import {
  entriesOfOrganisation,
  entriesOfPayment,
  ledgerBalances,
  type LedgerEntryRow,
  recentPayments,
} from '../../read-models/ledger/queries.js';
import { uuidParam } from '../commands.js';
import { defineRoute, type Route } from '../route.js';
import { minPositionQuery, readAfter, type ReadDeps } from '../read.js';
import { paymentIdOf } from '../../domain/payment/stream.js';

const balance = z.object({
  account: z.enum(ACCOUNTS),
  debitCents: z.number().int(),
  creditCents: z.number().int(),
  balanceCents: z.number().int(),
});
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
  .object({
    currency: z.string(),
    accounts: z.array(balance),
    totalCents: z.number().int().meta({ description: 'Debits less credits over every account: always 0' }),
  })
  .meta({ id: 'LedgerBalances' });

const toEntry = (r: LedgerEntryRow) => ({
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
  return [
    defineRoute({
      method: 'get',
      path: '/payments',
      operationId: 'listPayments',
      summary: 'Payments, the most recently changed first: the last event of each and its invoice',
      description:
        "From the stream index and the ledger (read models). Page with `before`: the `updatedAt` of the last one seen. Each payment's full history is GET /audit/payments/{paymentId}.",
      tags: ['Payments'],
      roles: ['admin', 'auditor'],
      query: z.object({
        limit: z.coerce.number().int().min(1).max(200).default(50),
        before: z.iso
          .datetime({ offset: true })
          .optional()
          .meta({ description: 'Only payments last changed before this time' }),
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
        const rows = await recentPayments(deps.knex, {
          limit: query.limit,
          ...(query.before ? { before: new Date(query.before) } : {}),
        });
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
        return { status: 200, body: await ledgerBalances(deps.knex) };
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
        const rows = await entriesOfPayment(deps.knex, params.paymentId);
        return { status: 200, body: { entries: rows.map(toEntry) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/ledger/orgs/{orgId}',
      operationId: 'ledgerOfOrganisation',
      summary:
        "An organisation's side of the ledger: what a shipper owes, what a carrier is owed, and the entries (newest first)",
      tags: ['Ledger'],
      roles: 'any',
      params: z.object({ orgId: uuidParam('The shipper or carrier organisation') }),
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), minPosition: minPositionQuery }),
      responses: { 200: { description: 'Balances and entries', schema: balances.extend({ entries: z.array(entry) }) } },
      async handle({ params, query, actor }) {
        if (actor.orgId !== params.orgId && !isAdmin(actor) && !finance(actor.roles))
          throw new AccessDenied("Only the organisation's members see its ledger");
        await readAfter(deps, 'ledger', query.minPosition);
        const rows = await entriesOfOrganisation(deps.knex, params.orgId, query.limit);
        return {
          status: 200,
          body: { ...(await ledgerBalances(deps.knex, params.orgId)), entries: rows.map(toEntry) },
        };
      },
    }),
  ];
}
