/**
 * What a load decider needs to know of a carrier to let it bid or book: the carrier aggregate's
 * standing, looked up by the handler and passed in with the command (deciders do no IO).
 */
export interface CarrierStanding {
  readonly carrierId: string;
  readonly orgId: string;
  readonly verified: boolean;
  readonly allowedToOperate: boolean;
  readonly outOfService: boolean;
  readonly suspended: boolean;
  /** End of the insurance on file; absent when none is on file. */
  readonly insuredUntil?: Date;
}

/** Why a carrier may not bid or book now, or undefined when it may. */
export function ineligibility(c: CarrierStanding, now: Date): string | undefined {
  if (!c.verified) return 'the carrier is not verified';
  if (!c.allowedToOperate) return 'the carrier is not allowed to operate';
  if (c.outOfService) return 'the carrier is out of service';
  if (c.suspended) return 'the carrier is suspended';
  if (!c.insuredUntil || c.insuredUntil.getTime() <= now.getTime()) return 'the carrier has no insurance in force';
  return undefined;
}
