import { z } from 'zod';
import { auditEvents } from '../../application/audit.js';
import type { PaymentService } from '../../application/payments.js';
import { isoDateTime } from '../../domain/shared/codecs.js';
import { answer, commandAnswer, newId, uuidParam } from '../commands.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { defineRoute, type Route } from '../route.js';

const paymentParams = z.object({ paymentId: uuidParam('The payment (one per load settlement)') });
const accepted = { 202: { description: 'Applied (or already so)', schema: commandAnswer } };
const cents = z.number().int().positive().max(1_000_000_000);

const paymentState = z
  .object({
    status: z.string(),
    stage: z.string(),
    currency: z.string().optional(),
    amountCents: z.number().int().optional(),
    chargedCents: z.number().int().optional(),
    carrierPayableCents: z.number().int().optional(),
    platformFeeCents: z.number().int().optional(),
    refundedCents: z.number().int().optional(),
    paidOutCents: z.number().int().optional(),
    payoutTerms: z.enum(['standard', 'quickpay']).optional(),
    openDisputes: z.array(z.string()).optional(),
    flagged: z.object({ stage: z.string(), reason: z.string() }).nullable().optional(),
    reconciles: z.boolean(),
  })
  .meta({ id: 'PaymentState' });
const auditAnswer = z
  .object({
    paymentId: z.uuid(),
    at: z.string().nullable(),
    ok: z.boolean().meta({ description: 'The hash chain is intact and the amounts reconcile after every event' }),
    chain: z.object({
      ok: z.boolean(),
      head: z.string().nullable().optional(),
      revision: z.string().optional(),
      eventId: z.string().optional(),
      reason: z.string().optional(),
    }),
    state: paymentState.meta({ description: 'The payment as it stood at `at` (or now)' }),
    events: z.array(
      z.object({
        position: z.string(),
        revision: z.string(),
        eventId: z.string(),
        type: z.string(),
        recordedAt: z.string(),
        actor: z.string().nullable(),
        correlationId: z.string().nullable(),
        causationId: z.string().nullable(),
        hash: z.string().nullable(),
        data: z.unknown(),
        stateAfter: paymentState,
      }),
    ),
  })
  .meta({ id: 'PaymentAudit' });

/** Payment commands people issue (QuickPay, refunds, write-offs) and the auditors' replay of a payment. */
export function paymentRoutes(deps: {
  payments: PaymentService;
  quickPay: { feeBps: number; minFeeCents: number };
}): Route[] {
  const { payments } = deps;

  return [
    defineRoute({
      method: 'get',
      path: '/audit/payments/{paymentId}',
      operationId: 'auditPayment',
      summary:
        "A payment's full history from the event log: positions, times, actors, correlation, the state after each event, and the hash chain check",
      description:
        'Replays the log (the audit trail), not a read model. `?at=` gives the state at that moment: the events recorded up to it.',
      tags: ['Audit'],
      roles: ['auditor', 'admin'],
      params: paymentParams,
      query: z.object({ at: isoDateTime.optional().meta({ description: 'ISO-8601 time: the state then' }) }),
      responses: { 200: { description: 'The payment replayed', schema: auditAnswer } },
      async handle({ params, query }) {
        const all = await payments.history(params.paymentId);
        if (!all.length) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No payment ${params.paymentId}`);
        const whole = auditEvents(params.paymentId, all);
        const upTo = query.at ? all.filter((e) => e.createdAt.getTime() <= query.at!.getTime()) : all;
        const shown = query.at ? auditEvents(params.paymentId, upTo) : whole;
        const state = shown.events.length
          ? shown.events[shown.events.length - 1]!.stateAfter
          : { status: 'none', stage: 'none', reconciles: true };
        const chain = whole.chain.ok
          ? { ok: true, head: whole.chain.head }
          : {
              ok: false,
              revision: whole.chain.revision.toString(),
              eventId: whole.chain.eventId,
              reason: whole.chain.reason,
            };
        return {
          status: 200,
          body: {
            paymentId: params.paymentId,
            at: query.at?.toISOString() ?? null,
            ok: whole.ok,
            chain,
            state,
            events: shown.events,
          },
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/payments/{paymentId}/quickpay',
      operationId: 'requestQuickPay',
      summary: 'The carrier asks to be paid within a day, for a fee taken from its payable (once, before the payout)',
      tags: ['Payments'],
      roles: ['carrier', 'dispatcher', 'admin'],
      command: true,
      params: paymentParams,
      responses: accepted,
      async handle(input) {
        return answer(
          await payments.run(input.params.paymentId, { type: 'RequestQuickPay', data: deps.quickPay }, input),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/payments/{paymentId}/refunds',
      operationId: 'issueRefund',
      summary:
        "Refund the shipper (admin): at most what was charged; from the platform's share first unless the carrier's share is named",
      tags: ['Payments'],
      roles: ['admin'],
      command: true,
      params: paymentParams,
      body: z.object({
        refundId: z.uuid().optional(),
        amountCents: cents,
        fromCarrierCents: z.number().int().min(0).max(1_000_000_000).optional(),
        reason: z.string().trim().min(1).max(500),
      }),
      responses: accepted,
      async handle(input) {
        const { refundId, ...rest } = input.body;
        const data = { refundId: newId(input, refundId), ...rest };
        return answer(await payments.run(input.params.paymentId, { type: 'IssueRefund', data }, input));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/payments/{paymentId}/write-off',
      operationId: 'writeOffPayment',
      summary: 'Write off a payment the shipper will never pay (admin; only before any charge)',
      tags: ['Payments'],
      roles: ['admin'],
      command: true,
      params: paymentParams,
      body: z.object({ reason: z.string().trim().min(1).max(500) }),
      responses: accepted,
      async handle(input) {
        return answer(
          await payments.run(input.params.paymentId, { type: 'WriteOff', data: { reason: input.body.reason } }, input),
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/payments/{paymentId}/close',
      operationId: 'closePayment',
      summary:
        'Close a settled payment (admin): charged and paid out with no open dispute, or written off; nothing moves after',
      tags: ['Payments'],
      roles: ['admin'],
      command: true,
      params: paymentParams,
      responses: accepted,
      async handle(input) {
        return answer(await payments.run(input.params.paymentId, { type: 'ClosePayment', data: {} }, input));
      },
    }),
  ];
}
