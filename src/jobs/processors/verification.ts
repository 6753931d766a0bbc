import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { CarrierService } from '../../application/carriers.js';
import { systemActor } from '../../application/invocation.js';
import { FmcsaCircuitOpen, type FmcsaClient, FmcsaRejected } from '../../integrations/fmcsa/client.js';
import { checkCarrier } from '../../integrations/fmcsa/verify.js';

export const FMCSA_ACTOR = 'system:fmcsa-verification';
/** The verification job records results as the platform would: an admin of its own. */
const SYSTEM = systemActor(FMCSA_ACTOR, ['admin']);

export interface VerificationJob {
  carrierId: string;
  reason: 'registered' | 'mc-number-changed' | 'recheck' | 'requested';
  causationId?: string;
  correlationId?: string;
}

/**
 * Checks one carrier against the register and appends the result to its stream. While the
 * circuit is open a job goes back to the queue, delayed until the circuit may let a call
 * through, its attempts untouched: nothing is lost, and nothing hammers a register that is down.
 */
export function verificationProcessor(deps: {
  carriers: CarrierService;
  fmcsa: FmcsaClient;
  insuranceTrustMs: number;
}) {
  return async (job: Job<VerificationJob>, token?: string) => {
    const wait = async (ms: number): Promise<never> => {
      // A little jitter, so the waiting jobs do not all try the half-open circuit at once.
      await job.moveToDelayed(Date.now() + Math.max(250, ms) + Math.floor(Math.random() * 250), token);
      throw new DelayedError();
    };
    const state = await deps.carriers.state(job.data.carrierId);
    if (state.status === 'none') throw new UnrecoverableError(`carrier ${job.data.carrierId} is not registered`);
    if (deps.fmcsa.circuit === 'open') return wait(deps.fmcsa.retryInMs);
    const { usdotNumber, mcNumber } = state.profile;
    let result;
    try {
      result = await checkCarrier(
        deps.fmcsa,
        { usdotNumber, ...(mcNumber ? { mcNumber } : {}) },
        new Date(),
        deps.insuranceTrustMs,
      );
    } catch (err) {
      if (err instanceof FmcsaCircuitOpen) return wait(err.retryInMs);
      // A refused webKey will be refused again: straight to the dead letter, for an admin.
      if (err instanceof FmcsaRejected) throw new UnrecoverableError(err.message);
      throw err;
    }
    const r = await deps.carriers.run(
      job.data.carrierId,
      { type: 'RecordVerification', data: { ...result, source: 'fmcsa' } },
      {
        actor: SYSTEM,
        now: result.checkedAt,
        idempotencyKey: `verify:${job.id}`,
        ...(job.data.causationId ? { causationId: job.data.causationId } : {}),
        ...(job.data.correlationId ? { correlationId: job.data.correlationId } : {}),
      },
    );
    const recorded = r.events[0];
    return recorded?.type === 'CarrierVerificationRecorded'
      ? { verified: recorded.data.verified, reasons: recorded.data.reasons }
      : { stale: true };
  };
}
