import type { Role } from '../shared/actor.js';

export interface User {
  readonly email: string;
  readonly roles: readonly Role[];
  readonly active: boolean;
}

export type OrganisationState =
  | { readonly status: 'none' }
  | {
      readonly status: 'active' | 'suspended';
      readonly orgId: string;
      readonly kind: 'shipper' | 'carrier' | 'broker';
      readonly users: Readonly<Record<string, User>>;
      /** Where a shipper is charged (Stripe), once set. */
      readonly billing?: { readonly stripeCustomerId: string; readonly paymentMethodId: string };
    };
