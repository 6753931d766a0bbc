import { z } from 'zod';
import { isoDateTime } from '../shared/codecs.js';
import { latitude, longitude } from '../shared/geo.js';

/** One schema per shape, shared by HTTP bodies and stored events. */
export const EQUIPMENT_TYPES = [
  'flatbed',
  'step_deck',
  'dry_van',
  'reefer',
  'lowboy',
  'dump',
  'hopper',
  'tanker',
  'conestoga',
  'power_only',
] as const;
export const equipmentType = z.enum(EQUIPMENT_TYPES);
export type EquipmentType = z.infer<typeof equipmentType>;

export const US_STATE = z.string().regex(/^[A-Z]{2}$/, 'a two-letter state code');

export const place = z.object({
  address: z.string().trim().min(1).max(200),
  city: z.string().trim().min(1).max(100),
  state: US_STATE,
  zip: z.string().regex(/^\d{5}(-\d{4})?$/, 'a 5-digit ZIP (or ZIP+4)'),
  lat: latitude,
  lng: longitude,
});
export type Place = z.infer<typeof place>;

export const timeWindow = z
  .object({ from: isoDateTime, to: isoDateTime })
  // zod 4 runs object refinements even when a field failed (then it is still the raw string).
  .refine((w) => !(w.from instanceof Date && w.to instanceof Date) || w.from.getTime() < w.to.getTime(), {
    message: 'a window must end after it starts',
  });
export type TimeWindow = z.output<typeof timeWindow>;

/** Integer cents; a load's rate is a flat rate in USD. */
export const cents = z.number().int().positive().max(100_000_000);

export const requirements = z
  .object({
    tarps: z.boolean().default(false),
    hazmat: z.boolean().default(false),
    twic: z.boolean().default(false),
    teamDrivers: z.boolean().default(false),
    notes: z.string().max(1000).optional(),
  })
  .default({ tarps: false, hazmat: false, twic: false, teamDrivers: false });
export type Requirements = z.output<typeof requirements>;

export const loadDetails = z.object({
  shipperOrgId: z.uuid(),
  reference: z.string().trim().min(1).max(64),
  commodity: z.string().trim().min(1).max(120),
  description: z.string().max(2000).default(''),
  weightLb: z.number().int().positive().max(200_000),
  lengthFt: z.number().positive().max(200),
  equipmentType,
  loadSize: z.enum(['full', 'partial']),
  origin: place,
  destination: place,
  pickupWindow: timeWindow,
  deliveryWindow: timeWindow,
  rateCents: cents,
  currency: z.literal('USD').default('USD'),
  requirements,
  /** Road miles when the shipper knows them; otherwise estimated from the great circle. */
  tripMiles: z.number().int().positive().max(10_000).optional(),
});
export type LoadDetails = z.output<typeof loadDetails>;
