import { z } from 'zod';
import { isoDateTime } from '../shared/codecs.js';
import { defineEvent, EventRegistry, type EventsOf } from '../shared/event-schema.js';
import { cents, loadDetails, timeWindow } from './schemas.js';
import { latitude, longitude } from '../shared/geo.js';

const at = isoDateTime;

export const LoadPosted = defineEvent({
  type: 'LoadPosted',
  schema: loadDetails.extend({
    loadId: z.uuid(),
    tripMiles: z.number().int().positive(),
    tripMilesEstimated: z.boolean(),
    postedAt: at,
    expiresAt: at,
  }),
});
export const LoadRevised = defineEvent({
  type: 'LoadRevised',
  schema: z.object({
    rateCents: cents.optional(),
    pickupWindow: timeWindow.optional(),
    deliveryWindow: timeWindow.optional(),
    expiresAt: at,
    revisedAt: at,
  }),
});
export const BidPlaced = defineEvent({
  type: 'BidPlaced',
  schema: z.object({ bidId: z.uuid(), carrierId: z.uuid(), carrierOrgId: z.uuid(), amountCents: cents, placedAt: at }),
});
export const BidWithdrawn = defineEvent({
  type: 'BidWithdrawn',
  schema: z.object({ bidId: z.uuid(), carrierId: z.uuid(), withdrawnAt: at }),
});
export const BidAccepted = defineEvent({
  type: 'BidAccepted',
  schema: z.object({ bidId: z.uuid(), carrierId: z.uuid(), amountCents: cents, acceptedAt: at }),
});
export const LoadBooked = defineEvent({
  type: 'LoadBooked',
  schema: z.object({
    carrierId: z.uuid(),
    carrierOrgId: z.uuid(),
    rateCents: cents,
    via: z.enum(['bid', 'book_now']),
    bidId: z.uuid().optional(),
    bookedAt: at,
  }),
});
export const DriverAssigned = defineEvent({
  type: 'DriverAssigned',
  schema: z.object({
    driverId: z.uuid(),
    truckId: z.string().min(1).max(64),
    trailerId: z.string().min(1).max(64).optional(),
    assignedAt: at,
  }),
});
export const LoadPickedUp = defineEvent({ type: 'LoadPickedUp', schema: z.object({ pickedUpAt: at }) });
export const LoadInTransit = defineEvent({ type: 'LoadInTransit', schema: z.object({ departedAt: at }) });
export const LoadDelivered = defineEvent({
  type: 'LoadDelivered',
  schema: z.object({
    deliveredAt: at,
    proofOfDelivery: z.object({
      signedBy: z.string().trim().min(1).max(120),
      documentUrl: z.url().optional(),
      notes: z.string().max(1000).optional(),
    }),
  }),
});
export const LoadCancelled = defineEvent({
  type: 'LoadCancelled',
  schema: z.object({ reason: z.string().trim().min(1).max(500), cancelledBy: z.string(), cancelledAt: at }),
});
/** The booked carrier backed out before pickup; the load is posted again. Counts against the carrier's score. */
export const LoadBookingReleased = defineEvent({
  type: 'LoadBookingReleased',
  schema: z.object({
    carrierId: z.uuid(),
    carrierOrgId: z.uuid(),
    reason: z.string().trim().min(1).max(500),
    releasedBy: z.string(),
    releasedAt: at,
  }),
});
/** The truck's GPS came within the geofence of the pickup or delivery site (recorded by the geofence reactor). */
export const LoadArrived = defineEvent({
  type: 'LoadArrived',
  schema: z.object({
    site: z.enum(['pickup', 'delivery']),
    arrivedAt: at,
    lat: latitude,
    lng: longitude,
    distanceMi: z.number().min(0),
  }),
});
/** Pickup was confirmed while the truck's GPS did not put it at the pickup site: for a person to review. */
export const LoadFlaggedForReview = defineEvent({
  type: 'LoadFlaggedForReview',
  schema: z.object({
    reason: z.enum(['no_location', 'stale_location', 'far_from_site']),
    check: z.literal('pickup'),
    distanceMi: z.number().min(0).optional(),
    fixRecordedAt: at.optional(),
    flaggedAt: at,
  }),
});
export const LoadExpired = defineEvent({ type: 'LoadExpired', schema: z.object({ expiredAt: at }) });

export const loadEventDefinitions = [
  LoadPosted,
  LoadRevised,
  BidPlaced,
  BidWithdrawn,
  BidAccepted,
  LoadBooked,
  DriverAssigned,
  LoadPickedUp,
  LoadInTransit,
  LoadDelivered,
  LoadCancelled,
  LoadBookingReleased,
  LoadArrived,
  LoadFlaggedForReview,
  LoadExpired,
] as const;

export const loadEvents = new EventRegistry([...loadEventDefinitions]);

/** A load event as deciders see it: its type and decoded data. */
export type LoadEvent = EventsOf<typeof loadEventDefinitions>;
