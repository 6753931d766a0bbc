import type { Command } from '../shared/command.js';
import type { CarrierProfile, Verification } from './events.js';

export type RegisterCarrier = Command<'RegisterCarrier', CarrierProfile & { carrierId: string }>;
/** What the FMCSA register says (the verification job), or an admin's manual record. */
export type RecordVerification = Command<'RecordVerification', Omit<Verification, 'checkedAt'> & { checkedAt?: Date }>;
export type ChangeMcNumber = Command<'ChangeMcNumber', { mcNumber: string }>;
export type LinkPayoutAccount = Command<'LinkPayoutAccount', { stripeAccountId: string }>;
export type ExpireInsurance = Command<'ExpireInsurance', Record<string, never>>;
export type SuspendCarrier = Command<'SuspendCarrier', { reason: string }>;
export type ReinstateCarrier = Command<'ReinstateCarrier', Record<string, never>>;
export type RecordLoadOutcome = Command<
  'RecordLoadOutcome',
  { loadId: string; outcome: 'on_time' | 'late' | 'cancelled' }
>;

export type CarrierCommand =
  | RegisterCarrier
  | RecordVerification
  | ChangeMcNumber
  | LinkPayoutAccount
  | ExpireInsurance
  | SuspendCarrier
  | ReinstateCarrier
  | RecordLoadOutcome;
