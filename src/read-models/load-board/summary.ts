import { z } from 'zod';
import { BOARD_STATUSES, type BoardRow } from './row.js';

/** A load as the API and dashboards show it: the board row, shaped for clients. */
const place = z.object({
  address: z.string(),
  city: z.string(),
  state: z.string(),
  zip: z.string(),
  lat: z.number(),
  lng: z.number(),
});
export const loadSummary = z
  .object({
    loadId: z.uuid(),
    revision: z.string(),
    status: z.enum(BOARD_STATUSES),
    shipper: z.object({ orgId: z.uuid(), name: z.string().nullable() }),
    reference: z.string(),
    commodity: z.string(),
    description: z.string(),
    weightLb: z.number(),
    lengthFt: z.number(),
    equipmentType: z.string(),
    loadSize: z.string(),
    origin: place,
    destination: place,
    pickupWindow: z.object({ from: z.string(), to: z.string() }),
    deliveryWindow: z.object({ from: z.string(), to: z.string() }),
    rateCents: z.number().int(),
    currency: z.string(),
    tripMiles: z.number().int(),
    tripMilesEstimated: z.boolean(),
    ratePerMileCents: z.number().int(),
    requirements: z.object({ tarps: z.boolean(), hazmat: z.boolean(), twic: z.boolean(), teamDrivers: z.boolean() }),
    openBids: z.number().int(),
    bidCount: z.number().int(),
    booking: z
      .object({
        carrierId: z.uuid(),
        carrierOrgId: z.uuid(),
        rateCents: z.number().int(),
        bookedAt: z.string().nullable(),
      })
      .nullable(),
    assignment: z
      .object({
        driverId: z.uuid().nullable(),
        truckId: z.string().nullable(),
        arrivedAtPickup: z
          .string()
          .nullable()
          .meta({ description: "When the truck's GPS first came within the pickup site's geofence" }),
        arrivedAtDelivery: z.string().nullable(),
      })
      .nullable(),
    review: z
      .object({ reason: z.enum(['no_location', 'stale_location', 'far_from_site']), flaggedAt: z.string() })
      .nullable()
      .meta({
        description: "Set when pickup was confirmed without the truck's GPS at the pickup site: for a person to review",
      }),
    postedAt: z.string(),
    expiresAt: z.string(),
    ageMinutes: z.number().int(),
    deadheadMi: z.number().nullable().meta({ description: 'Great-circle miles from the origin point asked for' }),
  })
  .meta({ id: 'LoadSummary' });

export const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

export function toSummary(r: BoardRow & { deadhead_mi?: number | null }, now: Date): z.output<typeof loadSummary> {
  return {
    loadId: r.load_id,
    revision: String(r.revision),
    status: r.status,
    shipper: { orgId: r.shipper_org_id, name: r.shipper_name },
    reference: r.reference,
    commodity: r.commodity,
    description: r.description,
    weightLb: r.weight_lb,
    lengthFt: r.length_ft,
    equipmentType: r.equipment_type,
    loadSize: r.load_size,
    origin: {
      address: r.origin_address,
      city: r.origin_city,
      state: r.origin_state,
      zip: r.origin_zip,
      lat: r.origin_lat,
      lng: r.origin_lng,
    },
    destination: {
      address: r.dest_address,
      city: r.dest_city,
      state: r.dest_state,
      zip: r.dest_zip,
      lat: r.dest_lat,
      lng: r.dest_lng,
    },
    pickupWindow: { from: iso(r.pickup_from)!, to: iso(r.pickup_to)! },
    deliveryWindow: { from: iso(r.delivery_from)!, to: iso(r.delivery_to)! },
    rateCents: r.rate_cents,
    currency: r.currency,
    tripMiles: r.trip_miles,
    tripMilesEstimated: r.trip_miles_estimated,
    ratePerMileCents: r.rate_per_mile_cents,
    requirements: { tarps: r.tarps, hazmat: r.hazmat, twic: r.twic, teamDrivers: r.team_drivers },
    openBids: r.open_bids,
    bidCount: r.bid_count,
    booking: r.carrier_id
      ? {
          carrierId: r.carrier_id,
          carrierOrgId: r.carrier_org_id!,
          rateCents: r.booked_rate_cents!,
          bookedAt: iso(r.booked_at),
        }
      : null,
    assignment:
      r.driver_id || r.truck_id
        ? {
            driverId: r.driver_id,
            truckId: r.truck_id,
            arrivedAtPickup: iso(r.arrived_pickup_at),
            arrivedAtDelivery: iso(r.arrived_delivery_at),
          }
        : null,
    review: r.review_reason ? { reason: r.review_reason as 'no_location', flaggedAt: iso(r.flagged_at)! } : null,
    postedAt: iso(r.posted_at)!,
    expiresAt: iso(r.expires_at)!,
    ageMinutes: Math.max(0, Math.floor((now.getTime() - new Date(r.posted_at).getTime()) / 60_000)),
    deadheadMi: r.deadhead_mi === null || r.deadhead_mi === undefined ? null : Math.round(r.deadhead_mi * 10) / 10,
  };
}
