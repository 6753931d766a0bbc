import { type ChainCheck, HASH_FIELD, verifyChain } from '../domain/payment/chain.js';
import * as payment from '../domain/payment/decider.js';
import { type PaymentEvent, paymentEvents } from '../domain/payment/events.js';
import { formatPosition } from '../eventstore/position.js';
import type { EventStore, RecordedEvent } from '../eventstore/types.js';
import { PAYMENT_STREAM, paymentStream } from '../domain/payment/stream.js';

export interface AuditEntry {
  position: string;
  revision: string;
  eventId: string;
  type: string;
  recordedAt: string;
  actor: string | null;
  correlationId: string | null;
  causationId: string | null;
  hash: string | null;
  data: unknown;
  /** The payment as it stood once this event was applied. */
  stateAfter: PaymentView;
}

export interface PaymentView {
  status: string;
  stage: string;
  currency?: string;
  amountCents?: number;
  chargedCents?: number;
  carrierPayableCents?: number;
  platformFeeCents?: number;
  refundedCents?: number;
  paidOutCents?: number;
  payoutTerms?: 'standard' | 'quickpay';
  openDisputes?: string[];
  flagged?: { stage: string; reason: string } | null;
  reconciles: boolean;
}

export interface PaymentAudit {
  paymentId: string;
  events: AuditEntry[];
  chain: ChainCheck;
  /** The first event after which the amounts did not reconcile, if any. */
  unreconciledAt: string | null;
  ok: boolean;
}

export function viewOf(state: payment.PaymentState): PaymentView {
  if (state.status === 'none') return { status: 'none', stage: 'none', reconciles: true };
  const s = state.settlement;
  return {
    status: state.status,
    stage: payment.stageOf(state),
    currency: s.currency,
    amountCents: s.amountCents,
    chargedCents: s.chargedCents,
    carrierPayableCents: s.payableCents,
    platformFeeCents: s.feeCents,
    refundedCents: s.refundedCents,
    paidOutCents: s.payout.sentCents,
    payoutTerms: s.quickPayAt ? 'quickpay' : 'standard',
    openDisputes: Object.entries(s.disputes)
      .filter(([, d]) => d.open)
      .map(([id]) => id),
    flagged: s.flagged ?? null,
    reconciles: payment.reconciles(state),
  };
}

/** Replays one payment stream from the log: every event, the state after each, the hash chain, the books. */
export function auditEvents(paymentId: string, events: readonly RecordedEvent[]): PaymentAudit {
  const chain = verifyChain(events);
  let state: payment.PaymentState = payment.initialState;
  let unreconciledAt: string | null = null;
  const entries = events.map((e) => {
    state = payment.evolve(state, { type: e.type, data: paymentEvents.decode(e) } as PaymentEvent);
    const view = viewOf(state);
    if (!view.reconciles && !unreconciledAt) unreconciledAt = e.id;
    const meta = e.metadata;
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      position: formatPosition(e.position),
      revision: e.revision.toString(),
      eventId: e.id,
      type: e.type,
      recordedAt: e.createdAt.toISOString(),
      actor: text(meta.actor),
      correlationId: text(meta.correlationId),
      causationId: text(meta.causationId),
      hash: text(meta[HASH_FIELD]),
      data: e.data,
      stateAfter: view,
    };
  });
  return { paymentId, events: entries, chain, unreconciledAt, ok: chain.ok && unreconciledAt === null };
}

export async function auditPayment(store: EventStore, paymentId: string): Promise<PaymentAudit> {
  return auditEvents(paymentId, await store.readStream(paymentStream(paymentId)));
}

/** Every payment stream in the log, in the order they began (found by any of their events, whatever its type). */
export async function paymentIds(store: EventStore): Promise<string[]> {
  const ids = new Set<string>();
  let from: Parameters<EventStore['readAll']>[0] = { filter: { streamPrefixes: [PAYMENT_STREAM] }, maxCount: 1_000 };
  for (;;) {
    const page = await store.readAll(from);
    for (const e of page) ids.add(e.streamId.slice(PAYMENT_STREAM.length));
    if (page.length < 1_000) return [...ids];
    from = { ...from, fromPosition: page[page.length - 1]!.position };
  }
}
