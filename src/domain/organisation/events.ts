import { z } from 'zod';
import { isoDateTime } from '../shared/codecs.js';
import { defineEvent, EventRegistry, type EventsOf } from '../shared/event-schema.js';
import { ROLES } from '../shared/actor.js';

export const role = z.enum(ROLES);
export const phoneNumber = z.string().regex(/^\+[1-9]\d{6,14}$/, 'a phone number in E.164 form, e.g. +15125550100');
export const orgKind = z.enum(['shipper', 'carrier', 'broker']);

export const OrganisationRegistered = defineEvent({
  type: 'OrganisationRegistered',
  schema: z.object({
    orgId: z.uuid(),
    name: z.string().trim().min(1).max(200),
    kind: orgKind,
    registeredAt: isoDateTime,
  }),
});
export const UserAdded = defineEvent({
  type: 'UserAdded',
  schema: z.object({
    userId: z.uuid(),
    email: z.email().max(254),
    name: z.string().trim().min(1).max(200),
    roles: z.array(role).min(1),
    /** For text messages (a driver's phone), E.164. */
    phone: phoneNumber.optional(),
    addedAt: isoDateTime,
  }),
});
export const UserRolesChanged = defineEvent({
  type: 'UserRolesChanged',
  schema: z.object({ userId: z.uuid(), roles: z.array(role).min(1), changedAt: isoDateTime }),
});
export const UserDeactivated = defineEvent({
  type: 'UserDeactivated',
  schema: z.object({ userId: z.uuid(), deactivatedAt: isoDateTime }),
});
export const OrganisationSuspended = defineEvent({
  type: 'OrganisationSuspended',
  schema: z.object({ reason: z.string().trim().min(1).max(500), suspendedAt: isoDateTime }),
});
export const OrganisationReinstated = defineEvent({
  type: 'OrganisationReinstated',
  schema: z.object({ reinstatedAt: isoDateTime }),
});

/** The shipper's Stripe customer and the payment method it is charged with. */
export const BillingAccountSet = defineEvent({
  type: 'BillingAccountSet',
  schema: z.object({
    stripeCustomerId: z.string().regex(/^cus_[A-Za-z0-9]+$/, 'a Stripe customer id (cus_…)'),
    paymentMethodId: z.string().regex(/^pm_[A-Za-z0-9_]+$/, 'a Stripe payment method id (pm_…)'),
    setAt: isoDateTime,
  }),
});

export const organisationEventDefinitions = [
  BillingAccountSet,
  OrganisationRegistered,
  UserAdded,
  UserRolesChanged,
  UserDeactivated,
  OrganisationSuspended,
  OrganisationReinstated,
] as const;
export const organisationEvents = new EventRegistry([...organisationEventDefinitions]);

/** A organisation event as deciders see it: its type and decoded data. */
export type OrganisationEvent = EventsOf<typeof organisationEventDefinitions>;
