import { DelayedError, type Job, type Queue } from 'bullmq';
import { v5 as uuidv5 } from 'uuid';
import type { CarrierService } from '../../application/carriers.js';
import type { Invocation, Unsent } from '../../application/invocation.js';
import type { OrganisationService } from '../../application/organisations.js';
import { PAYMENTS_SYSTEM, type PaymentService } from '../../application/payments.js';
import * as payment from '../../domain/payment/decider.js';
import { loadStream } from '../../domain/load/stream.js';
import { type PaymentProvider, ProviderRejected, ProviderUnavailable } from '../../integrations/stripe/provider.js';

const NS = '0e7c3b1a-9d8f-4e6a-b5c4-3d2e1f0a9b8c';

export interface PaymentJob {
  paymentId: string;
  /** Charge jobs: which attempt (1, 2, …); each has its own charge id and so its own idempotency key. */
  attempt?: number;
  /** Refund jobs: which refund. */
  refundId?: string;
  causationId?: string;
  correlationId?: string;
}

export interface PaymentJobDeps {
  payments: PaymentService;
  /** The shipper's billing account and the carrier's payout account, as their streams say now. */
  organisations: Pick<OrganisationService, 'billingAccountOf'>;
  carriers: Pick<CarrierService, 'payoutAccountOf'>;
  provider: PaymentProvider;
  /** The payments queue, for the next attempt after a decline or a failed transfer. */
  queue: Queue;
  chargeAttempts: number;
  payoutAttempts: number;
  /** Delay before the second attempt; doubles after each. */
  retryMs: number;
  /** Records each charge, payout and refund outcome with its time since delivery. */
  observe?: (
    stage: 'charge' | 'payout' | 'refund',
    outcome: 'succeeded' | 'failed',
    secondsSinceDelivery: number,
  ) => void;
}

/**
 * Charges and payouts: Stripe is called only here, in jobs, never in a request. Each call's
 * idempotency key derives from the charge or payout id, itself derived from the payment and the
 * attempt, so a job retried after a crash or a timeout repeats the same request and Stripe
 * answers it once. A decline or a refused transfer is recorded and tried again later, up to a
 * bound; then the payment is flagged for review, so nothing is left half done without an event
 * saying so.
 */
export function paymentProcessor(deps: PaymentJobDeps) {
  const { payments, provider, queue } = deps;
  const system = (job: Job<PaymentJob>, key: string): Invocation => ({
    actor: PAYMENTS_SYSTEM,
    idempotencyKey: key,
    ...(job.data.causationId ? { causationId: job.data.causationId } : {}),
    ...(job.data.correlationId ? { correlationId: job.data.correlationId } : {}),
  });
  const cmd = <T extends payment.PaymentCommand['type']>(
    type: T,
    data: Extract<payment.PaymentCommand, { type: T }>['data'],
  ) => ({ type, data }) as Unsent<payment.PaymentCommand>;
  const run = (job: Job<PaymentJob>, command: Unsent<payment.PaymentCommand>, key: string) =>
    payments.run(job.data.paymentId, command, system(job, key));
  const flag = (job: Job<PaymentJob>, stage: 'charge' | 'payout' | 'refund', attempts: number, reason: string) =>
    run(job, cmd('FlagForReview', { stage, attempts, reason }), `flag-${stage}-${job.id}`);
  const lastTry = (job: Job<PaymentJob>) => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const observe = (s: payment.Settlement, stage: 'charge' | 'payout' | 'refund', outcome: 'succeeded' | 'failed') =>
    deps.observe?.(stage, outcome, Math.max(0, (Date.now() - s.deliveredAt.getTime()) / 1000));
  const later = (job: Job<PaymentJob>, name: 'charge' | 'payout' | 'refund', attempt: number) =>
    queue.add(
      name,
      { ...job.data, attempt },
      {
        jobId: `${name}-${job.data.paymentId}-${job.data.refundId ? `${job.data.refundId}-` : ''}${attempt}`,
        delay: Math.round(deps.retryMs * 2 ** (attempt - 2) * (0.8 + Math.random() * 0.4)),
      },
    );

  async function charge(job: Job<PaymentJob>) {
    const { paymentId } = job.data;
    const attempt = job.data.attempt ?? 1;
    const state = await payments.state(paymentId);
    if (state.status !== 'open') return { skipped: state.status };
    const s = state.settlement;
    if (s.chargedCents > 0) return { skipped: 'already charged' };
    const chargeId = uuidv5(`${paymentId}:charge:${attempt}`, NS);
    if (s.charge.pending && s.charge.pending !== chargeId) return { skipped: 'another charge is under way' };
    if (!s.charge.pending && s.charge.attempts >= attempt) return { skipped: `attempt ${attempt} already ended` };
    const billing = await deps.organisations.billingAccountOf(s.shipperOrgId);
    if (!billing) {
      await flag(job, 'charge', attempt, 'the shipper has no billing account');
      return { flagged: 'no billing account' };
    }
    await run(job, cmd('RequestCharge', { chargeId }), `charge-request-${chargeId}`);
    let result: Awaited<ReturnType<PaymentProvider['charge']>>;
    try {
      result = await provider.charge({
        paymentId,
        chargeId,
        amountCents: s.amountCents,
        currency: s.currency,
        customer: billing.stripeCustomerId,
        paymentMethod: billing.paymentMethodId,
        transferGroup: loadStream(s.loadId),
        idempotencyKey: `charge-${chargeId}`,
      });
    } catch (err) {
      if (err instanceof ProviderRejected) result = { outcome: 'declined', reason: err.message };
      else {
        if (lastTry(job)) await flag(job, 'charge', attempt, `Stripe did not answer: ${(err as Error).message}`);
        throw err;
      }
    }
    if (result.outcome === 'succeeded') {
      await run(job, cmd('RecordChargeSucceeded', { chargeId, providerRef: result.ref }), `charge-result-${chargeId}`);
      observe(s, 'charge', 'succeeded');
      return { charged: result.ref };
    }
    await run(job, cmd('RecordChargeFailed', { chargeId, reason: result.reason }), `charge-result-${chargeId}`);
    observe(s, 'charge', 'failed');
    if (attempt >= deps.chargeAttempts)
      await flag(job, 'charge', attempt, `the charge failed ${attempt} times: ${result.reason}`);
    else await later(job, 'charge', attempt + 1);
    return { declined: result.reason };
  }

  async function payout(job: Job<PaymentJob>, token?: string) {
    const { paymentId } = job.data;
    const state = await payments.state(paymentId);
    if (state.status !== 'open') return { skipped: state.status };
    const s = state.settlement;
    if (s.payout.sentAt) return { skipped: 'already paid' };
    if (s.chargedCents === 0) return { skipped: 'not charged' };
    const wait = async (until: number): Promise<never> => {
      await job.moveToDelayed(until, token);
      throw new DelayedError();
    };
    const due = payment.payoutDueAt(s).getTime();
    if (Date.now() < due) return wait(due);
    if (Object.values(s.disputes).some((d) => d.open)) return wait(Date.now() + Math.max(deps.retryMs, 60_000));
    const destination = await deps.carriers.payoutAccountOf(s.carrierId);
    const attempts = s.payout.attempts + (s.payout.pending ? 0 : 1);
    if (!destination) {
      await flag(job, 'payout', attempts, 'charge succeeded, but the carrier has linked no payout account');
      return { flagged: 'no payout account' };
    }
    const payoutId = s.payout.pending?.payoutId ?? uuidv5(`${paymentId}:payout:${attempts}`, NS);
    if (!s.payout.pending) await run(job, cmd('RequestPayout', { payoutId }), `payout-request-${payoutId}`);
    const now = await payments.state(paymentId);
    const pending = now.status === 'open' ? now.settlement.payout.pending : undefined;
    if (!pending) return { skipped: 'no payout under way' };
    try {
      const { ref } = await provider.transfer({
        paymentId,
        amountCents: pending.amountCents,
        currency: s.currency,
        destination,
        transferGroup: loadStream(s.loadId),
        idempotencyKey: `payout-${pending.payoutId}`,
      });
      await run(
        job,
        cmd('RecordPayoutSent', { payoutId: pending.payoutId, providerRef: ref }),
        `payout-result-${pending.payoutId}`,
      );
      observe(s, 'payout', 'succeeded');
      return { paid: ref };
    } catch (err) {
      if (err instanceof ProviderRejected) {
        await run(
          job,
          cmd('RecordPayoutFailed', { payoutId: pending.payoutId, reason: err.message }),
          `payout-result-${pending.payoutId}`,
        );
        observe(s, 'payout', 'failed');
        if (attempts >= deps.payoutAttempts)
          await flag(job, 'payout', attempts, `charge succeeded, transfer failed ${attempts} times: ${err.message}`);
        else await later(job, 'payout', attempts + 1);
        return { failed: err.message };
      }
      if (err instanceof ProviderUnavailable && lastTry(job))
        await flag(job, 'payout', attempts, `charge succeeded, Stripe did not answer the transfer: ${err.message}`);
      throw err;
    }
  }

  async function refund(job: Job<PaymentJob>) {
    const { paymentId, refundId } = job.data;
    const state = await payments.state(paymentId);
    if (state.status === 'none' || !refundId) return { skipped: 'no such payment' };
    const s = state.settlement;
    const r = s.refunds[refundId];
    if (!r || r.sent) return { skipped: r ? 'already sent' : 'no such refund' };
    if (!s.charge.ref) return { skipped: 'no charge to refund' };
    try {
      const { ref } = await provider.refund({
        paymentId,
        refundId,
        chargeRef: s.charge.ref,
        amountCents: r.amountCents,
        idempotencyKey: `refund-${refundId}`,
      });
      await run(job, cmd('RecordRefundSent', { refundId, providerRef: ref }), `refund-result-${refundId}`);
      observe(s, 'refund', 'succeeded');
      return { refunded: ref };
    } catch (err) {
      if (err instanceof ProviderRejected) {
        const attempt = r.failures + 1;
        await run(
          job,
          cmd('RecordRefundFailed', { refundId, reason: err.message }),
          `refund-result-${refundId}-${attempt}`,
        );
        observe(s, 'refund', 'failed');
        if (attempt >= deps.payoutAttempts)
          await flag(job, 'refund', attempt, `the refund was refused ${attempt} times: ${err.message}`);
        else await later(job, 'refund', attempt + 1);
        return { failed: err.message };
      }
      if (lastTry(job))
        await flag(job, 'refund', r.failures + 1, `Stripe did not answer the refund: ${(err as Error).message}`);
      throw err;
    }
  }

  return (job: Job<PaymentJob>, token?: string) =>
    job.name === 'payout' ? payout(job, token) : job.name === 'refund' ? refund(job) : charge(job);
}
