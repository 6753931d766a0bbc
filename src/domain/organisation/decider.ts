import { isAdmin, type Role } from '../shared/actor.js';
import { Forbidden, IllegalTransition, RuleViolation } from '../shared/errors.js';
import type { OrganisationCommand } from './commands.js';
import type { OrganisationEvent } from './events.js';
import type { OrganisationState } from './state.js';

export type { OrganisationCommand } from './commands.js';
export type { OrganisationState } from './state.js';

export const initialState: OrganisationState = { status: 'none' };
export { authorize } from './access.js';

/** Roles an organisation of each kind may hand out (admins and auditors are platform staff). */
const ROLES_BY_KIND: Record<'shipper' | 'carrier' | 'broker', readonly Role[]> = {
  shipper: ['shipper', 'dispatcher'],
  carrier: ['carrier', 'driver', 'dispatcher'],
  broker: ['shipper', 'dispatcher'],
};

const sameRoles = (a: readonly Role[], b: readonly Role[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

export function decide(command: OrganisationCommand, state: OrganisationState): OrganisationEvent[] {
  const { now, actor } = command.metadata;
  if (command.type === 'RegisterOrganisation') {
    if (!isAdmin(actor)) throw new Forbidden('only an admin registers an organisation');
    if (state.status !== 'none') throw new IllegalTransition('Cannot register: the organisation exists');
    return [{ type: 'OrganisationRegistered', data: { ...command.data, registeredAt: now } }];
  }
  if (state.status === 'none') throw new IllegalTransition('Cannot do this: the organisation does not exist');
  // Users are managed by platform admins, or by the organisation's own dispatchers.
  const manages = isAdmin(actor) || (actor.orgId === state.orgId && actor.roles.includes('dispatcher'));
  switch (command.type) {
    case 'AddUser': {
      if (!manages) throw new Forbidden("only an admin or the organisation's dispatcher manages its users");
      const { userId, email, name, roles, phone } = command.data;
      const existing = state.users[userId];
      if (existing) {
        if (existing.email === email && sameRoles(existing.roles, roles)) return [];
        throw new IllegalTransition(`User ${userId} already exists`);
      }
      if (Object.values(state.users).some((u) => u.email.toLowerCase() === email.toLowerCase())) {
        throw new RuleViolation('duplicate-email', `A user with ${email} already belongs to the organisation`);
      }
      allowedRoles(state.kind, roles);
      return [{ type: 'UserAdded', data: { userId, email, name, roles, ...(phone ? { phone } : {}), addedAt: now } }];
    }
    case 'ChangeUserRoles': {
      if (!manages) throw new Forbidden("only an admin or the organisation's dispatcher manages its users");
      const user = state.users[command.data.userId];
      if (!user) throw new IllegalTransition(`No user ${command.data.userId} in this organisation`);
      if (!user.active) throw new IllegalTransition('Cannot change the roles of a deactivated user');
      if (sameRoles(user.roles, command.data.roles)) return [];
      allowedRoles(state.kind, command.data.roles);
      return [
        { type: 'UserRolesChanged', data: { userId: command.data.userId, roles: command.data.roles, changedAt: now } },
      ];
    }
    case 'DeactivateUser': {
      if (!manages) throw new Forbidden("only an admin or the organisation's dispatcher manages its users");
      const user = state.users[command.data.userId];
      if (!user) throw new IllegalTransition(`No user ${command.data.userId} in this organisation`);
      if (!user.active) return [];
      return [{ type: 'UserDeactivated', data: { userId: command.data.userId, deactivatedAt: now } }];
    }
    case 'SuspendOrganisation': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin suspends an organisation');
      if (state.status === 'suspended') return [];
      return [{ type: 'OrganisationSuspended', data: { reason: command.data.reason, suspendedAt: now } }];
    }
    case 'SetBillingAccount': {
      const own =
        actor.orgId === state.orgId && (actor.roles.includes('dispatcher') || actor.roles.includes('shipper'));
      if (!isAdmin(actor) && !own)
        throw new Forbidden("only an admin or the organisation's own staff set its billing account");
      if (state.kind === 'carrier')
        throw new RuleViolation(
          'not-a-shipper',
          'Only shippers and brokers are charged; carriers link a payout account',
        );
      const { stripeCustomerId, paymentMethodId } = command.data;
      if (state.billing?.stripeCustomerId === stripeCustomerId && state.billing.paymentMethodId === paymentMethodId)
        return [];
      return [{ type: 'BillingAccountSet', data: { stripeCustomerId, paymentMethodId, setAt: now } }];
    }
    case 'ReinstateOrganisation': {
      if (!isAdmin(actor)) throw new Forbidden('only an admin reinstates an organisation');
      if (state.status === 'active') return [];
      return [{ type: 'OrganisationReinstated', data: { reinstatedAt: now } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

/**
 * Staff roles (admin, auditor) are no organisation's to hand out, not even by an admin: they act
 * platform-wide, and platform staff are vouched for by the identity provider, not registered here.
 */
function allowedRoles(kind: 'shipper' | 'carrier' | 'broker', roles: readonly Role[]): void {
  const allowed = ROLES_BY_KIND[kind];
  const bad = roles.filter((r) => !allowed.includes(r));
  if (bad.length)
    throw new RuleViolation('role-not-allowed', `A ${kind} organisation cannot give the role(s) ${bad.join(', ')}`);
}

export function evolve(state: OrganisationState, event: OrganisationEvent): OrganisationState {
  switch (event.type) {
    case 'OrganisationRegistered':
      return { status: 'active', orgId: event.data.orgId, kind: event.data.kind, users: {} };
    case 'UserAdded':
      if (state.status === 'none') return state;
      return {
        ...state,
        users: {
          ...state.users,
          [event.data.userId]: { email: event.data.email, roles: event.data.roles, active: true },
        },
      };
    case 'UserRolesChanged': {
      if (state.status === 'none') return state;
      const user = state.users[event.data.userId];
      return user
        ? { ...state, users: { ...state.users, [event.data.userId]: { ...user, roles: event.data.roles } } }
        : state;
    }
    case 'UserDeactivated': {
      if (state.status === 'none') return state;
      const user = state.users[event.data.userId];
      return user ? { ...state, users: { ...state.users, [event.data.userId]: { ...user, active: false } } } : state;
    }
    case 'OrganisationSuspended':
      return state.status === 'none' ? state : { ...state, status: 'suspended' };
    case 'OrganisationReinstated':
      return state.status === 'none' ? state : { ...state, status: 'active' };
    case 'BillingAccountSet':
      return state.status === 'none'
        ? state
        : {
            ...state,
            billing: { stripeCustomerId: event.data.stripeCustomerId, paymentMethodId: event.data.paymentMethodId },
          };
    default: {
      const unknown: never = event;
      throw new Error(`Unknown event ${(unknown as { type: string }).type}`);
    }
  }
}

/** Whether a user may act now: the per-request check the HTTP layer caches. */
export function isActiveMember(state: OrganisationState, userId: string): boolean {
  return state.status === 'active' && state.users[userId]?.active === true;
}
