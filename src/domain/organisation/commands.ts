import type { Command } from '../shared/command.js';
import type { Role } from '../shared/actor.js';

export type OrganisationCommand =
  | Command<'RegisterOrganisation', { orgId: string; name: string; kind: 'shipper' | 'carrier' | 'broker' }>
  | Command<'AddUser', { userId: string; email: string; name: string; roles: Role[]; phone?: string }>
  | Command<'ChangeUserRoles', { userId: string; roles: Role[] }>
  | Command<'DeactivateUser', { userId: string }>
  | Command<'SuspendOrganisation', { reason: string }>
  | Command<'ReinstateOrganisation', Record<string, never>>
  | Command<'SetBillingAccount', { stripeCustomerId: string; paymentMethodId: string }>;
