import type { CarrierProfile, Verification } from './events.js';

export interface Performance {
  readonly onTime: number;
  readonly late: number;
  readonly cancelled: number;
  /** Outcomes already counted (see outcomeKey), so a repeated report changes nothing. */
  readonly counted: readonly string[];
}

export type CarrierState =
  | { readonly status: 'none' }
  | {
      readonly status: 'active' | 'suspended';
      readonly carrierId: string;
      readonly profile: CarrierProfile;
      readonly verification?: Verification & { readonly verified: boolean };
      readonly insuranceExpired: boolean;
      readonly performance: Performance;
      /** The Stripe Connect account payouts go to, once linked. */
      readonly payoutAccount?: string;
    };
