import type { CarrierStanding } from '../../../src/domain/carrier/eligibility.js';
import type { Actor } from '../../../src/domain/shared/actor.js';
import type { LoadCommand } from '../../../src/domain/load/commands.js';
import type { LoadEvent } from '../../../src/domain/load/events.js';
import type { LoadDetails } from '../../../src/domain/load/schemas.js';

export const NOW = new Date('2026-11-22T12:00:00.000Z');
export const hours = (h: number) => new Date(NOW.getTime() + h * 3_600_000);

export const SHIPPER_ORG = '11111111-1111-4111-8111-111111111111';
export const CARRIER_ORG = '22222222-2222-4222-8222-222222222222';
export const OTHER_ORG = '33333333-3333-4333-8333-333333333333';
export const LOAD_ID = '44444444-4444-4444-8444-444444444444';
export const CARRIER_ID = '55555555-5555-4555-8555-555555555555';
export const OTHER_CARRIER_ID = '66666666-6666-4666-8666-666666666666';
export const DRIVER_ID = '77777777-7777-4777-8777-777777777777';
export const bidId = (n: number) => `88888888-8888-4888-8888-${String(n).padStart(12, '0')}`;

export const shipper: Actor = { userId: 'u-shipper', orgId: SHIPPER_ORG, roles: ['shipper'] };
export const carrierUser: Actor = { userId: 'u-carrier', orgId: CARRIER_ORG, roles: ['carrier'] };
export const stranger: Actor = { userId: 'u-other', orgId: OTHER_ORG, roles: ['shipper', 'carrier'] };
export const admin: Actor = { userId: 'u-admin', orgId: OTHER_ORG, roles: ['admin'] };

export const goodCarrier: CarrierStanding = {
  carrierId: CARRIER_ID,
  orgId: CARRIER_ORG,
  verified: true,
  allowedToOperate: true,
  outOfService: false,
  suspended: false,
  insuredUntil: hours(24 * 365),
};

export const details: LoadDetails = {
  shipperOrgId: SHIPPER_ORG,
  reference: 'PO-1001',
  commodity: 'Rebar, grade 60',
  description: '20 ft bundles',
  weightLb: 42_000,
  lengthFt: 48,
  equipmentType: 'flatbed',
  loadSize: 'full',
  // Dallas, TX → Houston, TX
  origin: { address: '1 Main St', city: 'Dallas', state: 'TX', zip: '75201', lat: 32.7767, lng: -96.797 },
  destination: { address: '2 Dock Rd', city: 'Houston', state: 'TX', zip: '77002', lat: 29.7604, lng: -95.3698 },
  pickupWindow: { from: hours(24), to: hours(30) },
  deliveryWindow: { from: hours(30), to: hours(48) },
  rateCents: 150_000,
  currency: 'USD',
  requirements: { tarps: true, hazmat: false, twic: false, teamDrivers: false },
};

export const cmd = <C extends LoadCommand>(type: C['type'], data: C['data'], actor: Actor = shipper, now = NOW): C =>
  ({ type, data, metadata: { now, actor } }) as C;

export const ev = {
  posted: (): LoadEvent => ({
    type: 'LoadPosted',
    data: {
      ...details,
      loadId: LOAD_ID,
      tripMiles: 270,
      tripMilesEstimated: true,
      postedAt: NOW,
      expiresAt: hours(30),
    },
  }),
  bid: (n: number, carrierId = CARRIER_ID, amountCents = 140_000): LoadEvent => ({
    type: 'BidPlaced',
    data: { bidId: bidId(n), carrierId, carrierOrgId: CARRIER_ORG, amountCents, placedAt: NOW },
  }),
  booked: (): LoadEvent => ({
    type: 'LoadBooked',
    data: { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG, rateCents: 150_000, via: 'book_now', bookedAt: NOW },
  }),
  assigned: (): LoadEvent => ({
    type: 'DriverAssigned',
    data: { driverId: DRIVER_ID, truckId: 'T-9', assignedAt: NOW },
  }),
  pickedUp: (): LoadEvent => ({ type: 'LoadPickedUp', data: { pickedUpAt: NOW } }),
  inTransit: (): LoadEvent => ({ type: 'LoadInTransit', data: { departedAt: NOW } }),
  delivered: (): LoadEvent => ({
    type: 'LoadDelivered',
    data: { deliveredAt: NOW, proofOfDelivery: { signedBy: 'J. Doe' } },
  }),
  cancelled: (): LoadEvent => ({
    type: 'LoadCancelled',
    data: { reason: 'plans changed', cancelledBy: 'u-shipper', cancelledAt: NOW },
  }),
  expired: (): LoadEvent => ({ type: 'LoadExpired', data: { expiredAt: hours(30) } }),
};

/** A history that ends in each state. */
export const histories = {
  none: [] as LoadEvent[],
  posted: [ev.posted()],
  booked: [ev.posted(), ev.booked()],
  assigned: [ev.posted(), ev.booked(), ev.assigned()],
  picked_up: [ev.posted(), ev.booked(), ev.assigned(), ev.pickedUp()],
  in_transit: [ev.posted(), ev.booked(), ev.assigned(), ev.pickedUp(), ev.inTransit()],
  delivered: [ev.posted(), ev.booked(), ev.assigned(), ev.pickedUp(), ev.inTransit(), ev.delivered()],
  cancelled: [ev.posted(), ev.cancelled()],
  expired: [ev.posted(), ev.expired()],
};
