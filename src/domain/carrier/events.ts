import { z } from 'zod';
import { isoDateTime } from '../shared/codecs.js';
import { defineEvent, EventRegistry, type EventsOf } from '../shared/event-schema.js';
import { cents, equipmentType, US_STATE } from '../load/schemas.js';
import { latitude, longitude } from '../shared/geo.js';

export const carrierProfile = z.object({
  orgId: z.uuid(),
  usdotNumber: z.string().regex(/^\d{1,8}$/, 'a USDOT number of up to 8 digits'),
  mcNumber: z
    .string()
    .regex(/^(MC-?)?\d{1,7}$/i, 'an MC number such as MC-123456')
    .optional(),
  legalName: z.string().trim().min(1).max(200),
  equipment: z.array(equipmentType).min(1).max(10),
  homeBase: z.object({ city: z.string().trim().min(1).max(100), state: US_STATE, lat: latitude, lng: longitude }),
});
export type CarrierProfile = z.output<typeof carrierProfile>;

export const verification = z.object({
  allowedToOperate: z.boolean(),
  outOfService: z.boolean(),
  authorityStatus: z.enum(['active', 'inactive', 'revoked', 'none']),
  insurance: z.object({
    onFile: z.boolean(),
    bipdCoverageCents: cents.optional(),
    cargoCoverageCents: cents.optional(),
    expiresAt: isoDateTime.optional(),
    /** The register's minimum for this carrier's operation (FMCSA only). */
    bipdRequiredCents: cents.optional(),
  }),
  checkedAt: isoDateTime,
  source: z.enum(['admin', 'fmcsa']),
  /** The numbers the check was made for: a result for numbers the carrier no longer has is stale. */
  checked: z.object({ usdotNumber: z.string(), mcNumber: z.string().optional() }).optional(),
  /** False when the USDOT number is not in the register (FMCSA only). */
  dotFound: z.boolean().optional(),
  /** False when the register files the MC number under another USDOT number (FMCSA only). */
  mcMatchesDot: z.boolean().optional(),
  /** The legal name the register holds for the USDOT number (FMCSA only). */
  registeredName: z.string().optional(),
});
export type Verification = z.output<typeof verification>;

export const CarrierRegistered = defineEvent({
  type: 'CarrierRegistered',
  schema: carrierProfile.extend({ carrierId: z.uuid(), registeredAt: isoDateTime }),
});
export const CarrierVerificationRecorded = defineEvent({
  type: 'CarrierVerificationRecorded',
  schema: verification.extend({ verified: z.boolean(), reasons: z.array(z.string()) }),
});
export const CarrierMcNumberChanged = defineEvent({
  type: 'CarrierMcNumberChanged',
  schema: z.object({
    mcNumber: carrierProfile.shape.mcNumber.unwrap(),
    previous: z.string().optional(),
    changedAt: isoDateTime,
  }),
});
/** The carrier's Stripe Connect account, where payouts are transferred. */
export const CarrierPayoutAccountLinked = defineEvent({
  type: 'CarrierPayoutAccountLinked',
  schema: z.object({
    stripeAccountId: z.string().regex(/^acct_[A-Za-z0-9]+$/, 'a Stripe Connect account id (acct_…)'),
    linkedAt: isoDateTime,
  }),
});
export const CarrierInsuranceExpired = defineEvent({
  type: 'CarrierInsuranceExpired',
  schema: z.object({ expiredAt: isoDateTime }),
});
export const CarrierSuspended = defineEvent({
  type: 'CarrierSuspended',
  schema: z.object({ reason: z.string().trim().min(1).max(500), suspendedBy: z.string(), suspendedAt: isoDateTime }),
});
export const CarrierReinstated = defineEvent({
  type: 'CarrierReinstated',
  schema: z.object({ reinstatedBy: z.string(), reinstatedAt: isoDateTime }),
});
export const CarrierPerformanceUpdated = defineEvent({
  type: 'CarrierPerformanceUpdated',
  schema: z.object({
    loadId: z.uuid(),
    outcome: z.enum(['on_time', 'late', 'cancelled']),
    onTime: z.number().int().min(0),
    late: z.number().int().min(0),
    cancelled: z.number().int().min(0),
    score: z.number().int().min(0).max(100),
    at: isoDateTime,
  }),
});

export const carrierEventDefinitions = [
  CarrierRegistered,
  CarrierVerificationRecorded,
  CarrierMcNumberChanged,
  CarrierPayoutAccountLinked,
  CarrierInsuranceExpired,
  CarrierSuspended,
  CarrierReinstated,
  CarrierPerformanceUpdated,
] as const;
export const carrierEvents = new EventRegistry([...carrierEventDefinitions]);

/** A carrier event as deciders see it: its type and decoded data. */
export type CarrierEvent = EventsOf<typeof carrierEventDefinitions>;
