import { type CarrierStanding, ineligibility } from '../carrier/eligibility.js';
import { type Actor, isAdmin } from '../shared/actor.js';
import { Forbidden, IllegalTransition, RuleViolation } from '../shared/errors.js';
import { estimatedRoadMiles, greatCircleMiles } from '../shared/geo.js';
import type { LoadCommand } from './commands.js';
import type { LoadEvent } from './events.js';
import { DEFAULT_LOCATION_POLICY, locationMismatch, roundMiles, withinGeofence } from './location.js';
import type { TimeWindow } from './schemas.js';
import type { Bid, LoadState, LoadStatus, Posting } from './state.js';

/** A posting lives at most this long, whatever its pickup window. */
export const MAX_POSTING_MS = 8 * 24 * 60 * 60 * 1000;
/** Open bids one carrier may hold on one load. */
export const MAX_OPEN_BIDS_PER_CARRIER = 5;

export type { Bid, LoadState, LoadStatus } from './state.js';

export const initialState: LoadState = { status: 'none' };
export { authorize } from './access.js';

function asShipper(actor: Actor, posting: Posting): void {
  if (!isAdmin(actor) && actor.orgId !== posting.shipperOrgId)
    throw new Forbidden('only the shipper that posted the load may do this');
}
function asCarrier(actor: Actor, carrierOrgId: string): void {
  if (!isAdmin(actor) && actor.orgId !== carrierOrgId)
    throw new Forbidden("only the carrier's own organisation may do this");
}
function eligible(carrier: CarrierStanding, now: Date): void {
  const why = ineligibility(carrier, now);
  if (why) throw new RuleViolation('carrier-not-eligible', `Refused: ${why}`);
}
function checkWindows(pickup: TimeWindow, delivery: TimeWindow, now: Date): void {
  if (pickup.to.getTime() <= now.getTime())
    throw new RuleViolation('invalid-window', 'The pickup window has already passed');
  if (delivery.from.getTime() < pickup.from.getTime()) {
    throw new RuleViolation('invalid-window', 'The delivery window cannot start before the pickup window');
  }
}
const expiry = (postedAt: Date, pickup: TimeWindow) =>
  new Date(Math.min(pickup.to.getTime(), postedAt.getTime() + MAX_POSTING_MS));
const sameWindow = (a: TimeWindow, b: TimeWindow) =>
  a.from.getTime() === b.from.getTime() && a.to.getTime() === b.to.getTime();

function notIn(state: LoadState, what: string): never {
  const where: Record<LoadStatus, string> = {
    none: 'the load does not exist',
    posted: 'the load is still posted',
    booked: 'the load is booked',
    assigned: 'a driver is assigned',
    picked_up: 'the load is picked up',
    in_transit: 'the load is in transit',
    delivered: 'the load is delivered',
    cancelled: 'the load is cancelled',
    expired: 'the posting expired',
  };
  throw new IllegalTransition(`Cannot ${what}: ${where[state.status]}`);
}

export function decide(command: LoadCommand, state: LoadState): LoadEvent[] {
  const { now, actor } = command.metadata;
  switch (command.type) {
    case 'PostLoad': {
      if (state.status !== 'none') notIn(state, 'post the load again');
      const { loadId, tripMiles, ...details } = command.data;
      if (!isAdmin(actor) && actor.orgId !== details.shipperOrgId)
        throw new Forbidden('a shipper posts loads for its own organisation only');
      checkWindows(details.pickupWindow, details.deliveryWindow, now);
      return [
        {
          type: 'LoadPosted',
          data: {
            ...details,
            loadId,
            tripMiles: tripMiles ?? estimatedRoadMiles(details.origin, details.destination),
            tripMilesEstimated: tripMiles === undefined,
            postedAt: now,
            expiresAt: expiry(now, details.pickupWindow),
          },
        },
      ];
    }
    case 'ReviseLoad': {
      if (state.status !== 'posted') notIn(state, 'revise the load');
      const p = state.posting;
      asShipper(actor, p);
      const { rateCents, pickupWindow, deliveryWindow } = command.data;
      const changed = {
        ...(rateCents !== undefined && rateCents !== p.rateCents ? { rateCents } : {}),
        ...(pickupWindow && !sameWindow(pickupWindow, p.pickupWindow) ? { pickupWindow } : {}),
        ...(deliveryWindow && !sameWindow(deliveryWindow, p.deliveryWindow) ? { deliveryWindow } : {}),
      };
      if (Object.keys(changed).length === 0) return [];
      const pickup = changed.pickupWindow ?? p.pickupWindow;
      checkWindows(pickup, changed.deliveryWindow ?? p.deliveryWindow, now);
      return [{ type: 'LoadRevised', data: { ...changed, expiresAt: expiry(p.postedAt, pickup), revisedAt: now } }];
    }
    case 'PlaceBid': {
      const { bidId, carrier, amountCents } = command.data;
      if (state.status !== 'posted') notIn(state, 'bid');
      asCarrier(actor, carrier.orgId);
      const existing = state.posting.bids.find((b) => b.bidId === bidId);
      if (existing) {
        if (existing.carrierId === carrier.carrierId && existing.amountCents === amountCents) return [];
        throw new IllegalTransition(`Bid ${bidId} already exists`);
      }
      eligible(carrier, now);
      const open = state.posting.bids.filter((b) => b.carrierId === carrier.carrierId && b.status === 'open').length;
      if (open >= MAX_OPEN_BIDS_PER_CARRIER) {
        throw new RuleViolation(
          'bid-limit',
          `A carrier may hold at most ${MAX_OPEN_BIDS_PER_CARRIER} open bids on a load`,
        );
      }
      return [
        {
          type: 'BidPlaced',
          data: { bidId, carrierId: carrier.carrierId, carrierOrgId: carrier.orgId, amountCents, placedAt: now },
        },
      ];
    }
    case 'WithdrawBid': {
      if (state.status !== 'posted') notIn(state, 'withdraw a bid');
      const bid = state.posting.bids.find((b) => b.bidId === command.data.bidId);
      if (!bid) throw new IllegalTransition(`No bid ${command.data.bidId} on this load`);
      asCarrier(actor, bid.carrierOrgId);
      if (bid.status === 'withdrawn') return [];
      return [{ type: 'BidWithdrawn', data: { bidId: bid.bidId, carrierId: bid.carrierId, withdrawnAt: now } }];
    }
    case 'AcceptBid': {
      const { bidId, carrier } = command.data;
      if (state.status !== 'posted') {
        if ('booking' in state && state.booking.bidId === bidId) return [];
        notIn(state, 'accept a bid');
      }
      asShipper(actor, state.posting);
      const bid = state.posting.bids.find((b) => b.bidId === bidId);
      if (!bid) throw new IllegalTransition(`No bid ${bidId} on this load`);
      if (bid.status !== 'open') throw new IllegalTransition(`Bid ${bidId} is ${bid.status}`);
      if (carrier.carrierId !== bid.carrierId)
        throw new RuleViolation('carrier-mismatch', 'The standing given is not the bidding carrier’s');
      eligible(carrier, now);
      return [
        {
          type: 'BidAccepted',
          data: { bidId, carrierId: bid.carrierId, amountCents: bid.amountCents, acceptedAt: now },
        },
        {
          type: 'LoadBooked',
          data: {
            carrierId: bid.carrierId,
            carrierOrgId: bid.carrierOrgId,
            rateCents: bid.amountCents,
            via: 'bid',
            bidId,
            bookedAt: now,
          },
        },
      ];
    }
    case 'BookNow': {
      const { carrier } = command.data;
      if (state.status !== 'posted') {
        if ('booking' in state && state.booking.carrierId === carrier.carrierId && state.booking.bidId === undefined)
          return [];
        notIn(state, 'book the load');
      }
      asCarrier(actor, carrier.orgId);
      eligible(carrier, now);
      return [
        {
          type: 'LoadBooked',
          data: {
            carrierId: carrier.carrierId,
            carrierOrgId: carrier.orgId,
            rateCents: state.posting.rateCents,
            via: 'book_now',
            bookedAt: now,
          },
        },
      ];
    }
    case 'AssignDriver': {
      if (state.status !== 'booked' && state.status !== 'assigned') notIn(state, 'assign a driver');
      asCarrier(actor, state.booking.carrierOrgId);
      const { driverId, truckId, trailerId } = command.data;
      if (state.status === 'assigned') {
        const a = state.assignment;
        if (a.driverId === driverId && a.truckId === truckId && a.trailerId === trailerId) return [];
      }
      return [
        { type: 'DriverAssigned', data: { driverId, truckId, ...(trailerId ? { trailerId } : {}), assignedAt: now } },
      ];
    }
    case 'ConfirmPickup': {
      if (state.status === 'picked_up' || state.status === 'in_transit') return [];
      if (state.status !== 'assigned')
        notIn(state, state.status === 'booked' ? 'confirm pickup before a driver is assigned' : 'confirm pickup');
      asCarrier(actor, state.booking.carrierOrgId);
      const picked: LoadEvent = { type: 'LoadPickedUp', data: { pickedUpAt: now } };
      // Not refused: the freight may really be on the truck. But a pickup the truck's GPS does not
      // confirm is recorded as such, for a person to look at (double brokering shows up this way).
      const m = locationMismatch(
        state.posting.pickupSite,
        command.data.truckFix,
        now,
        command.data.policy ?? DEFAULT_LOCATION_POLICY,
      );
      if (!m) return [picked];
      return [
        picked,
        {
          type: 'LoadFlaggedForReview',
          data: {
            reason: m.reason,
            check: 'pickup',
            ...(m.distanceMi !== undefined ? { distanceMi: m.distanceMi } : {}),
            ...(m.fixRecordedAt ? { fixRecordedAt: m.fixRecordedAt } : {}),
            flaggedAt: now,
          },
        },
      ];
    }
    case 'RecordArrival': {
      // An observation of the geofence reactor: where it does not apply (or was seen already), nothing.
      const { site, fix } = command.data;
      const due =
        site === 'pickup' ? state.status === 'assigned' : state.status === 'picked_up' || state.status === 'in_transit';
      if (!due || !('assignment' in state) || state.assignment.arrivals[site]) return [];
      const target = site === 'pickup' ? state.posting.pickupSite : state.posting.deliverySite;
      if (!withinGeofence(target, fix, command.data.policy ?? DEFAULT_LOCATION_POLICY)) return [];
      const distanceMi = roundMiles(greatCircleMiles(target, fix));
      return [
        { type: 'LoadArrived', data: { site, arrivedAt: fix.recordedAt, lat: fix.lat, lng: fix.lng, distanceMi } },
      ];
    }
    case 'MarkInTransit': {
      if (state.status === 'in_transit') return [];
      if (state.status !== 'picked_up') notIn(state, 'mark the load in transit');
      asCarrier(actor, state.booking.carrierOrgId);
      return [{ type: 'LoadInTransit', data: { departedAt: now } }];
    }
    case 'DeliverLoad': {
      if (state.status === 'delivered') return [];
      if (state.status !== 'picked_up' && state.status !== 'in_transit') notIn(state, 'deliver the load');
      asCarrier(actor, state.booking.carrierOrgId);
      const { signedBy, documentUrl, notes } = command.data;
      return [
        {
          type: 'LoadDelivered',
          data: {
            deliveredAt: now,
            proofOfDelivery: { signedBy, ...(documentUrl ? { documentUrl } : {}), ...(notes ? { notes } : {}) },
          },
        },
      ];
    }
    case 'CancelLoad': {
      if (state.status === 'cancelled') return [];
      if (state.status !== 'posted' && state.status !== 'booked' && state.status !== 'assigned')
        notIn(state, 'cancel the load');
      asShipper(actor, state.posting);
      return [
        { type: 'LoadCancelled', data: { reason: command.data.reason, cancelledBy: actor.userId, cancelledAt: now } },
      ];
    }
    case 'ReleaseBooking': {
      if (state.status !== 'booked' && state.status !== 'assigned') notIn(state, 'release the booking');
      asCarrier(actor, state.booking.carrierOrgId);
      const { carrierId, carrierOrgId } = state.booking;
      return [
        {
          type: 'LoadBookingReleased',
          data: { carrierId, carrierOrgId, reason: command.data.reason, releasedBy: actor.userId, releasedAt: now },
        },
      ];
    }
    case 'ExpireLoad': {
      // Sent by a job when a posting's time is up: anything but a due, unbooked posting is left as is.
      if (state.status !== 'posted') return [];
      if (now.getTime() < state.posting.expiresAt.getTime()) {
        throw new RuleViolation('not-due', `The posting runs until ${state.posting.expiresAt.toISOString()}`);
      }
      return [{ type: 'LoadExpired', data: { expiredAt: now } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

export function evolve(state: LoadState, event: LoadEvent): LoadState {
  switch (event.type) {
    case 'LoadPosted': {
      const d = event.data;
      return {
        status: 'posted',
        posting: {
          loadId: d.loadId,
          shipperOrgId: d.shipperOrgId,
          pickupSite: { lat: d.origin.lat, lng: d.origin.lng },
          deliverySite: { lat: d.destination.lat, lng: d.destination.lng },
          rateCents: d.rateCents,
          pickupWindow: d.pickupWindow,
          deliveryWindow: d.deliveryWindow,
          tripMiles: d.tripMiles,
          postedAt: d.postedAt,
          expiresAt: d.expiresAt,
          bids: [],
        },
      };
    }
    case 'LoadRevised': {
      if (state.status !== 'posted') return state;
      const { rateCents, pickupWindow, deliveryWindow, expiresAt } = event.data;
      const p = state.posting;
      return {
        ...state,
        posting: {
          ...p,
          rateCents: rateCents ?? p.rateCents,
          pickupWindow: pickupWindow ?? p.pickupWindow,
          deliveryWindow: deliveryWindow ?? p.deliveryWindow,
          expiresAt,
        },
      };
    }
    case 'BidPlaced': {
      if (state.status !== 'posted') return state;
      const { bidId, carrierId, carrierOrgId, amountCents } = event.data;
      const bid: Bid = { bidId, carrierId, carrierOrgId, amountCents, status: 'open' };
      return { ...state, posting: { ...state.posting, bids: [...state.posting.bids, bid] } };
    }
    case 'BidWithdrawn':
    case 'BidAccepted': {
      if (state.status !== 'posted') return state;
      const status: Bid['status'] = event.type === 'BidWithdrawn' ? 'withdrawn' : 'accepted';
      const bids = state.posting.bids.map((b) => (b.bidId === event.data.bidId ? { ...b, status } : b));
      return { ...state, posting: { ...state.posting, bids } };
    }
    case 'LoadBooked': {
      if (state.status !== 'posted') return state;
      const { carrierId, carrierOrgId, rateCents, bidId } = event.data;
      return {
        status: 'booked',
        posting: state.posting,
        booking: { carrierId, carrierOrgId, rateCents, ...(bidId ? { bidId } : {}) },
      };
    }
    case 'DriverAssigned': {
      if (state.status !== 'booked' && state.status !== 'assigned') return state;
      const { driverId, truckId, trailerId } = event.data;
      // A new truck has arrived nowhere yet; the same truck keeps its arrivals.
      const arrivals =
        state.status === 'assigned' && state.assignment.truckId === truckId ? state.assignment.arrivals : {};
      return {
        status: 'assigned',
        posting: state.posting,
        booking: state.booking,
        assignment: { driverId, truckId, ...(trailerId ? { trailerId } : {}), arrivals },
      };
    }
    case 'LoadPickedUp':
      return state.status === 'assigned' ? { ...state, status: 'picked_up' } : state;
    case 'LoadInTransit':
      return state.status === 'picked_up' ? { ...state, status: 'in_transit' } : state;
    case 'LoadDelivered':
      return state.status === 'picked_up' || state.status === 'in_transit' ? { ...state, status: 'delivered' } : state;
    case 'LoadCancelled':
      if (state.status === 'none' || state.status === 'cancelled') return state;
      return {
        status: 'cancelled',
        posting: state.posting,
        ...('booking' in state ? { bookedBy: state.booking.carrierOrgId } : {}),
      };
    case 'LoadArrived': {
      if (!('assignment' in state)) return state;
      return {
        ...state,
        assignment: {
          ...state.assignment,
          arrivals: { ...state.assignment.arrivals, [event.data.site]: event.data.arrivedAt },
        },
      };
    }
    case 'LoadFlaggedForReview':
      // For people and read models; nothing the load decides on.
      return state;
    case 'LoadBookingReleased':
      // Back on the board as posted; the released carrier's accepted bid stays spent.
      return state.status === 'booked' || state.status === 'assigned'
        ? { status: 'posted', posting: state.posting }
        : state;
    case 'LoadExpired':
      return state.status === 'posted' ? { status: 'expired', posting: state.posting } : state;
    default: {
      const unknown: never = event;
      throw new Error(`Unknown event ${(unknown as { type: string }).type}`);
    }
  }
}

/** Rate per loaded mile, in cents (a derived figure: never stored as truth). */
export function ratePerMileCents(rateCents: number, tripMiles: number): number {
  return Math.round(rateCents / Math.max(1, tripMiles));
}
