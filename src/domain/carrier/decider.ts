import { isAdmin } from '../shared/actor.js';
import { Forbidden, IllegalTransition, RuleViolation } from '../shared/errors.js';
import type { CarrierCommand } from './commands.js';
import type { CarrierStanding } from './eligibility.js';
import type { CarrierEvent, Verification } from './events.js';
import { outcomeKey } from './performance.js';
import type { CarrierState, Performance } from './state.js';

export type { CarrierState } from './state.js';

export const initialState: CarrierState = { status: 'none' };
export { authorize } from './access.js';

/** Why a verification does not make the carrier eligible (empty when it does). */
export function verificationGaps(v: Omit<Verification, 'source'>): string[] {
  const gaps: string[] = [];
  if (v.dotFound === false) gaps.push('USDOT number not in the FMCSA register');
  if (v.mcMatchesDot === false) gaps.push('USDOT and MC numbers belong to different entities');
  if (!v.allowedToOperate) gaps.push('not allowed to operate');
  if (v.outOfService) gaps.push('out of service');
  if (v.authorityStatus !== 'active') gaps.push(`operating authority ${v.authorityStatus}`);
  if (!v.insurance.onFile) gaps.push('no insurance on file');
  // Without an end date, coverage cannot be shown to be in force: treated as a gap.
  else if (!v.insurance.expiresAt) gaps.push('insurance end date unknown');
  else if (v.insurance.expiresAt.getTime() <= v.checkedAt.getTime()) gaps.push('insurance expired');
  const { bipdCoverageCents: has, bipdRequiredCents: needs } = v.insurance;
  if (v.insurance.onFile && has !== undefined && needs !== undefined && has < needs)
    gaps.push('liability insurance below the required amount');
  return gaps;
}

export function score(p: Pick<Performance, 'onTime' | 'late' | 'cancelled'>): number {
  const total = p.onTime + p.late + p.cancelled;
  // Late counts half; cancellations count nothing. A carrier with no history starts at 100.
  return total === 0 ? 100 : Math.round((100 * (p.onTime + p.late / 2)) / total);
}

export function decide(command: CarrierCommand, state: CarrierState): CarrierEvent[] {
  const { now, actor } = command.metadata;
  switch (command.type) {
    case 'RegisterCarrier': {
      const { carrierId, ...profile } = command.data;
      if (!isAdmin(actor) && actor.orgId !== profile.orgId)
        throw new Forbidden('a carrier registers for its own organisation only');
      if (state.status !== 'none') throw new IllegalTransition('Cannot register: the carrier is already registered');
      return [{ type: 'CarrierRegistered', data: { ...profile, carrierId, registeredAt: now } }];
    }
    case 'RecordVerification': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin records a verification');
      if (state.status === 'none')
        throw new IllegalTransition('Cannot record a verification: the carrier is not registered');
      // A check of numbers the carrier no longer has (its MC number changed meanwhile) is stale.
      const checked = command.data.checked;
      if (checked && (checked.usdotNumber !== state.profile.usdotNumber || checked.mcNumber !== state.profile.mcNumber))
        return [];
      const v = { ...command.data, checkedAt: command.data.checkedAt ?? now };
      const reasons = verificationGaps(v);
      return [{ type: 'CarrierVerificationRecorded', data: { ...v, verified: reasons.length === 0, reasons } }];
    }
    case 'ChangeMcNumber': {
      if (state.status === 'none')
        throw new IllegalTransition('Cannot change the MC number: the carrier is not registered');
      if (!isAdmin(actor) && actor.orgId !== state.profile.orgId)
        throw new Forbidden("a carrier changes its own organisation's MC number only");
      const mcNumber = command.data.mcNumber.toUpperCase();
      if (mcNumber === state.profile.mcNumber?.toUpperCase()) return [];
      return [
        {
          type: 'CarrierMcNumberChanged',
          data: { mcNumber, ...(state.profile.mcNumber ? { previous: state.profile.mcNumber } : {}), changedAt: now },
        },
      ];
    }
    case 'LinkPayoutAccount': {
      if (state.status === 'none')
        throw new IllegalTransition('Cannot link a payout account: the carrier is not registered');
      if (!isAdmin(actor) && actor.orgId !== state.profile.orgId)
        throw new Forbidden("a carrier links its own organisation's payout account only");
      if (state.payoutAccount === command.data.stripeAccountId) return [];
      return [
        { type: 'CarrierPayoutAccountLinked', data: { stripeAccountId: command.data.stripeAccountId, linkedAt: now } },
      ];
    }
    case 'ExpireInsurance': {
      if (state.status === 'none')
        throw new IllegalTransition('Cannot expire insurance: the carrier is not registered');
      const expiresAt = state.verification?.insurance.expiresAt;
      if (!expiresAt || state.insuranceExpired || !state.verification?.insurance.onFile) return [];
      if (expiresAt.getTime() > now.getTime())
        throw new RuleViolation('not-due', `The insurance runs until ${expiresAt.toISOString()}`);
      return [{ type: 'CarrierInsuranceExpired', data: { expiredAt: now } }];
    }
    case 'SuspendCarrier': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin suspends a carrier');
      if (state.status === 'none') throw new IllegalTransition('Cannot suspend: the carrier is not registered');
      if (state.status === 'suspended') return [];
      return [
        {
          type: 'CarrierSuspended',
          data: { reason: command.data.reason, suspendedBy: actor.userId, suspendedAt: now },
        },
      ];
    }
    case 'ReinstateCarrier': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin reinstates a carrier');
      if (state.status === 'none') throw new IllegalTransition('Cannot reinstate: the carrier is not registered');
      if (state.status === 'active') return [];
      return [{ type: 'CarrierReinstated', data: { reinstatedBy: actor.userId, reinstatedAt: now } }];
    }
    case 'RecordLoadOutcome': {
      if (state.status === 'none') throw new IllegalTransition('Cannot score: the carrier is not registered');
      const { loadId, outcome } = command.data;
      if (state.performance.counted.includes(outcomeKey(loadId, outcome))) return [];
      const p = state.performance;
      const next = {
        onTime: p.onTime + (outcome === 'on_time' ? 1 : 0),
        late: p.late + (outcome === 'late' ? 1 : 0),
        cancelled: p.cancelled + (outcome === 'cancelled' ? 1 : 0),
      };
      return [{ type: 'CarrierPerformanceUpdated', data: { loadId, outcome, ...next, score: score(next), at: now } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

export function evolve(state: CarrierState, event: CarrierEvent): CarrierState {
  switch (event.type) {
    case 'CarrierRegistered': {
      const { carrierId, registeredAt: _at, ...profile } = event.data;
      return {
        status: 'active',
        carrierId,
        profile,
        insuranceExpired: false,
        performance: { onTime: 0, late: 0, cancelled: 0, counted: [] },
      };
    }
    case 'CarrierVerificationRecorded': {
      if (state.status === 'none') return state;
      const { reasons: _reasons, ...verification } = event.data;
      return { ...state, verification, insuranceExpired: false };
    }
    case 'CarrierMcNumberChanged': {
      // The earlier verification vouched for other numbers: unverified until checked again.
      if (state.status === 'none') return state;
      const { verification: _stale, ...rest } = state;
      return { ...rest, profile: { ...state.profile, mcNumber: event.data.mcNumber } };
    }
    case 'CarrierInsuranceExpired':
      return state.status === 'none' ? state : { ...state, insuranceExpired: true };
    case 'CarrierPayoutAccountLinked':
      return state.status === 'none' ? state : { ...state, payoutAccount: event.data.stripeAccountId };
    case 'CarrierSuspended':
      return state.status === 'none' ? state : { ...state, status: 'suspended' };
    case 'CarrierReinstated':
      return state.status === 'none' ? state : { ...state, status: 'active' };
    case 'CarrierPerformanceUpdated': {
      if (state.status === 'none') return state;
      const { onTime, late, cancelled, loadId, outcome } = event.data;
      return {
        ...state,
        performance: { onTime, late, cancelled, counted: [...state.performance.counted, outcomeKey(loadId, outcome)] },
      };
    }
    default: {
      const unknown: never = event;
      throw new Error(`Unknown event ${(unknown as { type: string }).type}`);
    }
  }
}

/** What the load decider checks before a bid or booking. */
export function standingOf(state: CarrierState): CarrierStanding | undefined {
  if (state.status === 'none') return undefined;
  const v = state.verification;
  const insurance = v?.insurance;
  return {
    carrierId: state.carrierId,
    orgId: state.profile.orgId,
    verified: v?.verified ?? false,
    allowedToOperate: v?.allowedToOperate ?? false,
    outOfService: v?.outOfService ?? false,
    suspended: state.status === 'suspended',
    ...(insurance?.onFile && !state.insuranceExpired && insurance.expiresAt
      ? { insuredUntil: insurance.expiresAt }
      : {}),
  };
}
