import { expect } from 'chai';
import { DomainError, IllegalTransition, RuleViolation } from '../../../src/domain/shared/errors.js';
import { greatCircleMiles } from '../../../src/domain/shared/geo.js';
import type { LoadCommand } from '../../../src/domain/load/commands.js';
import {
  decide,
  evolve,
  initialState,
  type LoadStatus,
  MAX_POSTING_MS,
  ratePerMileCents,
} from '../../../src/domain/load/decider.js';
import type { LoadEvent } from '../../../src/domain/load/events.js';
import { specification } from '../../support/decider.js';
import {
  admin,
  bidId,
  CARRIER_ID,
  CARRIER_ORG,
  carrierUser,
  cmd,
  details,
  DRIVER_ID,
  ev,
  goodCarrier,
  histories,
  hours,
  LOAD_ID,
  NOW,
  OTHER_CARRIER_ID,
  shipper,
  stranger,
} from './load-fixtures.js';

const given = specification({ decide, evolve, initialState });
const PICKUP_SITE = { lat: details.origin.lat, lng: details.origin.lng };
const DELIVERY_SITE = { lat: details.destination.lat, lng: details.destination.lng };

describe('The load decider', () => {
  describe('every command in every state', () => {
    // The posted state holds one open bid, so bid commands have something to act on.
    const states: Record<LoadStatus, LoadEvent[]> = { ...histories, posted: [ev.posted(), ev.bid(1)] };
    type Outcome = 'events' | 'noop' | typeof IllegalTransition;
    const I = IllegalTransition;
    const matrix: { command: LoadCommand; outcomes: Record<LoadStatus, Outcome> }[] = [
      {
        command: cmd('PostLoad', { ...details, loadId: LOAD_ID }),
        outcomes: {
          none: 'events',
          posted: I,
          booked: I,
          assigned: I,
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('ReviseLoad', { rateCents: 160_000 }),
        outcomes: {
          none: I,
          posted: 'events',
          booked: I,
          assigned: I,
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('PlaceBid', { bidId: bidId(2), carrier: goodCarrier, amountCents: 145_000 }, carrierUser),
        outcomes: {
          none: I,
          posted: 'events',
          booked: I,
          assigned: I,
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('WithdrawBid', { bidId: bidId(1) }, carrierUser),
        outcomes: {
          none: I,
          posted: 'events',
          booked: I,
          assigned: I,
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('AcceptBid', { bidId: bidId(1), carrier: goodCarrier }),
        outcomes: {
          none: I,
          posted: 'events',
          booked: I,
          assigned: I,
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        // Booked-now by this very carrier: a repeat changes nothing.
        command: cmd('BookNow', { carrier: goodCarrier }, carrierUser),
        outcomes: {
          none: I,
          posted: 'events',
          booked: 'noop',
          assigned: 'noop',
          picked_up: 'noop',
          in_transit: 'noop',
          delivered: 'noop',
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('AssignDriver', { driverId: DRIVER_ID, truckId: 'T-9' }, carrierUser),
        outcomes: {
          none: I,
          posted: I,
          booked: 'events',
          assigned: 'noop',
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('ConfirmPickup', {}, carrierUser),
        outcomes: {
          none: I,
          posted: I,
          booked: I,
          assigned: 'events',
          picked_up: 'noop',
          in_transit: 'noop',
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('MarkInTransit', {}, carrierUser),
        outcomes: {
          none: I,
          posted: I,
          booked: I,
          assigned: I,
          picked_up: 'events',
          in_transit: 'noop',
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('DeliverLoad', { signedBy: 'J. Doe' }, carrierUser),
        outcomes: {
          none: I,
          posted: I,
          booked: I,
          assigned: I,
          picked_up: 'events',
          in_transit: 'events',
          delivered: 'noop',
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('CancelLoad', { reason: 'plans changed' }),
        outcomes: {
          none: I,
          posted: 'events',
          booked: 'events',
          assigned: 'events',
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: 'noop',
          expired: I,
        },
      },
      {
        command: cmd('ReleaseBooking', { reason: 'truck broke down' }, carrierUser),
        outcomes: {
          none: I,
          posted: I,
          booked: 'events',
          assigned: 'events',
          picked_up: I,
          in_transit: I,
          delivered: I,
          cancelled: I,
          expired: I,
        },
      },
      {
        command: cmd('RecordArrival', { site: 'pickup', fix: { ...PICKUP_SITE, recordedAt: NOW } }, admin),
        outcomes: {
          none: 'noop',
          posted: 'noop',
          booked: 'noop',
          assigned: 'events',
          picked_up: 'noop',
          in_transit: 'noop',
          delivered: 'noop',
          cancelled: 'noop',
          expired: 'noop',
        },
      },
      {
        command: cmd('ExpireLoad', {}, admin, hours(31)),
        outcomes: {
          none: 'noop',
          posted: 'events',
          booked: 'noop',
          assigned: 'noop',
          picked_up: 'noop',
          in_transit: 'noop',
          delivered: 'noop',
          cancelled: 'noop',
          expired: 'noop',
        },
      },
    ];
    for (const { command, outcomes } of matrix) {
      for (const [status, outcome] of Object.entries(outcomes) as [LoadStatus, Outcome][]) {
        const verb = outcome === 'events' ? 'decides events' : outcome === 'noop' ? 'changes nothing' : 'is refused';
        it(`${command.type} on a ${status} load ${verb}`, () => {
          const state = states[status].reduce(evolve, initialState);
          expect(state.status).to.equal(status);
          if (outcome === 'events') expect(decide(command, state)).to.have.length.greaterThan(0);
          else if (outcome === 'noop') expect(decide(command, state)).to.deep.equal([]);
          else expect(() => decide(command, state)).to.throw(outcome, /Cannot|No bid|already/);
        });
      }
    }
  });

  describe('Posting a load', () => {
    it('derives trip miles from the great circle and a road factor, and expires with the pickup window', () => {
      const gc = greatCircleMiles(details.origin, details.destination);
      given([])
        .when(cmd('PostLoad', { ...details, loadId: LOAD_ID }))
        .then([
          {
            type: 'LoadPosted',
            data: {
              ...details,
              loadId: LOAD_ID,
              tripMiles: Math.round(gc * 1.2),
              tripMilesEstimated: true,
              postedAt: NOW,
              expiresAt: hours(30),
            },
          },
        ]);
      expect(gc).to.be.within(215, 235);
    });

    it('keeps trip miles the shipper gives', () => {
      const [e] = decide(cmd('PostLoad', { ...details, loadId: LOAD_ID, tripMiles: 239 }), initialState);
      expect(e!.data).to.include({ tripMiles: 239, tripMilesEstimated: false });
    });

    it('lives at most 8 days even when pickup is later', () => {
      const far = {
        ...details,
        pickupWindow: { from: hours(24 * 10), to: hours(24 * 11) },
        deliveryWindow: { from: hours(24 * 11), to: hours(24 * 12) },
      };
      const [e] = decide(cmd('PostLoad', { ...far, loadId: LOAD_ID }), initialState);
      expect((e!.data as { expiresAt: Date }).expiresAt).to.deep.equal(new Date(NOW.getTime() + MAX_POSTING_MS));
    });

    it('refuses a pickup window already past, and delivery before pickup', () => {
      const past = { ...details, pickupWindow: { from: hours(-5), to: hours(-1) } };
      given([])
        .when(cmd('PostLoad', { ...past, loadId: LOAD_ID }))
        .thenThrows(RuleViolation, /already passed/);
      const early = { ...details, deliveryWindow: { from: hours(20), to: hours(40) } };
      given([])
        .when(cmd('PostLoad', { ...early, loadId: LOAD_ID }))
        .thenThrows(RuleViolation, /cannot start before/);
    });

    it('lets a shipper post only for its own organisation (admins for any)', () => {
      given([])
        .when(cmd('PostLoad', { ...details, loadId: LOAD_ID }, stranger))
        .thenThrows(DomainError, /own organisation/);
      expect(decide(cmd('PostLoad', { ...details, loadId: LOAD_ID }, admin), initialState)).to.have.length(1);
    });
  });

  describe('Revising a posted load', () => {
    it('records only what changed, and moves the expiry with the pickup window', () => {
      const pickupWindow = { from: hours(26), to: hours(36) };
      given([ev.posted()])
        .when(cmd('ReviseLoad', { rateCents: 150_000, pickupWindow }))
        .then([{ type: 'LoadRevised', data: { pickupWindow, expiresAt: hours(36), revisedAt: NOW } }]);
    });

    it('changes nothing when nothing differs', () => {
      given([ev.posted()])
        .when(cmd('ReviseLoad', { rateCents: 150_000, pickupWindow: details.pickupWindow }))
        .then([]);
    });

    it('refuses windows that do not fit, and other organisations', () => {
      given([ev.posted()])
        .when(cmd('ReviseLoad', { deliveryWindow: { from: hours(10), to: hours(12) } }))
        .thenThrows(RuleViolation, /cannot start before/);
      given([ev.posted()])
        .when(cmd('ReviseLoad', { rateCents: 1 }, stranger))
        .thenThrows(DomainError, /shipper that posted/);
    });
  });

  describe('Bidding', () => {
    const bid = (n: number, carrier = goodCarrier, amountCents = 140_000) =>
      cmd('PlaceBid', { bidId: bidId(n), carrier, amountCents }, carrierUser);

    it('records a bid from an eligible carrier', () => {
      given([ev.posted()])
        .when(bid(1))
        .then([
          {
            type: 'BidPlaced',
            data: {
              bidId: bidId(1),
              carrierId: CARRIER_ID,
              carrierOrgId: CARRIER_ORG,
              amountCents: 140_000,
              placedAt: NOW,
            },
          },
        ]);
    });

    const ineligible: [string, Partial<typeof goodCarrier>, RegExp][] = [
      ['unverified', { verified: false }, /not verified/],
      ['not allowed to operate', { allowedToOperate: false }, /not allowed to operate/],
      ['out of service', { outOfService: true }, /out of service/],
      ['suspended', { suspended: true }, /suspended/],
      ['uninsured', { insuredUntil: undefined }, /insurance/],
      ['whose insurance lapsed', { insuredUntil: hours(-1) }, /insurance/],
    ];
    for (const [name, change, why] of ineligible) {
      it(`refuses a carrier that is ${name}`, () => {
        given([ev.posted()])
          .when(bid(1, { ...goodCarrier, ...change }))
          .thenThrows(RuleViolation, why);
      });
    }

    it('allows at most 5 open bids per carrier; withdrawn ones do not count', () => {
      const five = [1, 2, 3, 4, 5].map((n) => ev.bid(n));
      given([ev.posted(), ...five])
        .when(bid(6))
        .thenThrows(RuleViolation, /at most 5 open bids/);
      const withdrawn: LoadEvent = {
        type: 'BidWithdrawn',
        data: { bidId: bidId(3), carrierId: CARRIER_ID, withdrawnAt: NOW },
      };
      expect(decide(bid(6), [ev.posted(), ...five, withdrawn].reduce(evolve, initialState))).to.have.length(1);
      // Another carrier's bids are its own count.
      const other = { ...goodCarrier, carrierId: OTHER_CARRIER_ID };
      expect(decide(bid(7, other), [ev.posted(), ...five].reduce(evolve, initialState))).to.have.length(1);
    });

    it('treats a repeated bid as done, and refuses a bid id taken by another bid', () => {
      given([ev.posted(), ev.bid(1)])
        .when(bid(1))
        .then([]);
      given([ev.posted(), ev.bid(1)])
        .when(bid(1, goodCarrier, 99_000))
        .thenThrows(IllegalTransition, /already exists/);
    });

    it("refuses bids and withdrawals on another organisation's behalf", () => {
      given([ev.posted()])
        .when(cmd('PlaceBid', { bidId: bidId(1), carrier: goodCarrier, amountCents: 1 }, stranger))
        .thenThrows(DomainError, /own organisation/);
      given([ev.posted(), ev.bid(1)])
        .when(cmd('WithdrawBid', { bidId: bidId(1) }, stranger))
        .thenThrows(DomainError, /own organisation/);
    });

    it('withdraws a bid once; an unknown bid is refused', () => {
      const withdraw = cmd('WithdrawBid', { bidId: bidId(1) }, carrierUser);
      given([ev.posted(), ev.bid(1)])
        .when(withdraw)
        .then([{ type: 'BidWithdrawn', data: { bidId: bidId(1), carrierId: CARRIER_ID, withdrawnAt: NOW } }]);
      given([
        ev.posted(),
        ev.bid(1),
        { type: 'BidWithdrawn', data: { bidId: bidId(1), carrierId: CARRIER_ID, withdrawnAt: NOW } },
      ])
        .when(withdraw)
        .then([]);
      given([ev.posted()])
        .when(withdraw)
        .thenThrows(IllegalTransition, /No bid/);
    });
  });

  describe('Accepting a bid and booking', () => {
    const accept = (carrier = goodCarrier, actor = shipper) => cmd('AcceptBid', { bidId: bidId(1), carrier }, actor);

    it('books the load at the bid amount', () => {
      given([ev.posted(), ev.bid(1, CARRIER_ID, 139_000)])
        .when(accept())
        .then([
          {
            type: 'BidAccepted',
            data: { bidId: bidId(1), carrierId: CARRIER_ID, amountCents: 139_000, acceptedAt: NOW },
          },
          {
            type: 'LoadBooked',
            data: {
              carrierId: CARRIER_ID,
              carrierOrgId: CARRIER_ORG,
              rateCents: 139_000,
              via: 'bid',
              bidId: bidId(1),
              bookedAt: NOW,
            },
          },
        ]);
    });

    it('treats accepting the same bid again as done', () => {
      const history = [ev.posted(), ev.bid(1)];
      const events = decide(accept(), history.reduce(evolve, initialState));
      given([...history, ...events])
        .when(accept())
        .then([]);
    });

    it('refuses a withdrawn bid, a carrier no longer eligible, a standing for another carrier, another organisation', () => {
      const withdrawn: LoadEvent = {
        type: 'BidWithdrawn',
        data: { bidId: bidId(1), carrierId: CARRIER_ID, withdrawnAt: NOW },
      };
      given([ev.posted(), ev.bid(1), withdrawn])
        .when(accept())
        .thenThrows(IllegalTransition, /withdrawn/);
      given([ev.posted(), ev.bid(1)])
        .when(accept({ ...goodCarrier, insuredUntil: hours(-2) }))
        .thenThrows(RuleViolation, /insurance/);
      given([ev.posted(), ev.bid(1)])
        .when(accept({ ...goodCarrier, carrierId: OTHER_CARRIER_ID }))
        .thenThrows(RuleViolation, /bidding carrier/);
      given([ev.posted(), ev.bid(1)])
        .when(accept(goodCarrier, stranger))
        .thenThrows(DomainError, /shipper that posted/);
    });

    it('books now at the posted rate, and refuses a second carrier or an ineligible one', () => {
      given([ev.posted()])
        .when(cmd('BookNow', { carrier: goodCarrier }, carrierUser))
        .then([
          {
            type: 'LoadBooked',
            data: {
              carrierId: CARRIER_ID,
              carrierOrgId: CARRIER_ORG,
              rateCents: 150_000,
              via: 'book_now',
              bookedAt: NOW,
            },
          },
        ]);
      const other = { ...goodCarrier, carrierId: OTHER_CARRIER_ID };
      given([ev.posted(), ev.booked()])
        .when(cmd('BookNow', { carrier: other }, carrierUser))
        .thenThrows(IllegalTransition, /is booked/);
      given([ev.posted()])
        .when(cmd('BookNow', { carrier: { ...goodCarrier, outOfService: true } }, carrierUser))
        .thenThrows(RuleViolation, /out of service/);
    });
  });

  describe('Hauling', () => {
    it('assigns and reassigns a driver and truck before pickup', () => {
      given([ev.posted(), ev.booked()])
        .when(cmd('AssignDriver', { driverId: DRIVER_ID, truckId: 'T-9', trailerId: 'TR-1' }, carrierUser))
        .then([
          { type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-9', trailerId: 'TR-1', assignedAt: NOW } },
        ]);
      given(histories.assigned)
        .when(cmd('AssignDriver', { driverId: DRIVER_ID, truckId: 'T-10' }, carrierUser))
        .then([{ type: 'DriverAssigned', data: { driverId: DRIVER_ID, truckId: 'T-10', assignedAt: NOW } }]);
      given(histories.booked)
        .when(cmd('AssignDriver', { driverId: DRIVER_ID, truckId: 'T-9' }, stranger))
        .thenThrows(DomainError, /own organisation/);
    });

    it('needs a driver before pickup, then goes picked up → in transit → delivered with proof', () => {
      given(histories.booked)
        .when(cmd('ConfirmPickup', {}, carrierUser))
        .thenThrows(IllegalTransition, /before a driver is assigned/);
      given(histories.assigned)
        .when(cmd('ConfirmPickup', { truckFix: { ...PICKUP_SITE, recordedAt: NOW } }, carrierUser))
        .then([{ type: 'LoadPickedUp', data: { pickedUpAt: NOW } }]);
      given(histories.picked_up)
        .when(cmd('MarkInTransit', {}, carrierUser))
        .then([{ type: 'LoadInTransit', data: { departedAt: NOW } }]);
      given(histories.in_transit)
        .when(cmd('DeliverLoad', { signedBy: 'J. Doe', documentUrl: 'https://pod.example/1.pdf' }, carrierUser))
        .then([
          {
            type: 'LoadDelivered',
            data: {
              deliveredAt: NOW,
              proofOfDelivery: { signedBy: 'J. Doe', documentUrl: 'https://pod.example/1.pdf' },
            },
          },
        ]);
      given(histories.in_transit)
        .when(cmd('DeliverLoad', { signedBy: 'X' }, stranger))
        .thenThrows(DomainError, /own organisation/);
    });
  });

  describe("Checking pickup against the truck's GPS", () => {
    const near = { lat: PICKUP_SITE.lat + 0.003, lng: PICKUP_SITE.lng }; // about 0.2 mi
    const picked = { type: 'LoadPickedUp', data: { pickedUpAt: NOW } } as const;
    it('accepts a pickup the last fix puts at the site', () => {
      given(histories.assigned)
        .when(cmd('ConfirmPickup', { truckFix: { ...near, recordedAt: hours(-0.2) } }, carrierUser))
        .then([picked]);
    });
    it('records the pickup and flags it for review when there is no fix', () => {
      given(histories.assigned)
        .when(cmd('ConfirmPickup', {}, carrierUser))
        .then([
          picked,
          { type: 'LoadFlaggedForReview', data: { reason: 'no_location', check: 'pickup', flaggedAt: NOW } },
        ]);
    });
    it('flags a fix older than the policy allows, even at the site', () => {
      const recordedAt = hours(-0.5);
      given(histories.assigned)
        .when(cmd('ConfirmPickup', { truckFix: { ...near, recordedAt } }, carrierUser))
        .then([
          picked,
          {
            type: 'LoadFlaggedForReview',
            data: {
              reason: 'stale_location',
              check: 'pickup',
              distanceMi: 0.21,
              fixRecordedAt: recordedAt,
              flaggedAt: NOW,
            },
          },
        ]);
      // A looser policy accepts it.
      given(histories.assigned)
        .when(
          cmd(
            'ConfirmPickup',
            { truckFix: { ...near, recordedAt }, policy: { geofenceMi: 0.5, maxFixAgeMs: 3_600_000 } },
            carrierUser,
          ),
        )
        .then([picked]);
    });
    it('flags a truck far from the pickup site', () => {
      const houston = { lat: 29.7604, lng: -95.3698, recordedAt: NOW };
      const [, flag] = decide(
        cmd('ConfirmPickup', { truckFix: houston }, carrierUser),
        histories.assigned.reduce(evolve, initialState),
      );
      expect(flag).to.deep.include({ type: 'LoadFlaggedForReview' });
      expect(flag!.data).to.include({ reason: 'far_from_site', check: 'pickup' });
      expect((flag!.data as { distanceMi: number }).distanceMi).to.be.within(220, 240);
    });
  });

  describe('Arriving at the sites (the geofence reactor)', () => {
    const fix = (site: { lat: number; lng: number }, h = 0) => ({
      lat: site.lat + 0.001,
      lng: site.lng,
      recordedAt: hours(h),
    });
    const arrive = (site: 'pickup' | 'delivery', f: ReturnType<typeof fix>) =>
      cmd('RecordArrival', { site, fix: f }, admin);
    it('records the truck arriving at pickup once, while assigned', () => {
      const f = fix(PICKUP_SITE, 1);
      const [e] = decide(arrive('pickup', f), histories.assigned.reduce(evolve, initialState));
      expect(e).to.deep.include({ type: 'LoadArrived' });
      expect(e!.data).to.include({ site: 'pickup', arrivedAt: f.recordedAt, lat: f.lat, lng: f.lng });
      given([...histories.assigned, e!])
        .when(arrive('pickup', fix(PICKUP_SITE, 2)))
        .then([]);
      // Not near the site, or not due: nothing.
      given(histories.assigned)
        .when(arrive('pickup', fix(DELIVERY_SITE)))
        .then([]);
      given(histories.booked).when(arrive('pickup', f)).then([]);
      given(histories.in_transit).when(arrive('pickup', f)).then([]);
    });
    it('records arriving at delivery after pickup', () => {
      const [e] = decide(arrive('delivery', fix(DELIVERY_SITE, 5)), histories.in_transit.reduce(evolve, initialState));
      expect(e!.data).to.include({ site: 'delivery' });
      given(histories.assigned)
        .when(arrive('delivery', fix(DELIVERY_SITE, 5)))
        .then([]);
      given(histories.delivered)
        .when(arrive('delivery', fix(DELIVERY_SITE, 5)))
        .then([]);
    });
    it('forgets the arrivals of a truck that is replaced', () => {
      const [e] = decide(arrive('pickup', fix(PICKUP_SITE, 1)), histories.assigned.reduce(evolve, initialState));
      const reassigned: LoadEvent = {
        type: 'DriverAssigned',
        data: { driverId: DRIVER_ID, truckId: 'T-other', assignedAt: hours(2) },
      };
      expect(
        decide(
          arrive('pickup', fix(PICKUP_SITE, 3)),
          [...histories.assigned, e!, reassigned].reduce(evolve, initialState),
        ),
      ).to.have.length(1);
    });
  });

  describe('Cancelling and expiring', () => {
    it('cancels before pickup only, by the shipper', () => {
      given(histories.assigned)
        .when(cmd('CancelLoad', { reason: 'plans changed' }))
        .then([
          { type: 'LoadCancelled', data: { reason: 'plans changed', cancelledBy: 'u-shipper', cancelledAt: NOW } },
        ]);
      given(histories.picked_up)
        .when(cmd('CancelLoad', { reason: 'x' }))
        .thenThrows(IllegalTransition, /picked up/);
      given(histories.posted)
        .when(cmd('CancelLoad', { reason: 'x' }, carrierUser))
        .thenThrows(DomainError, /shipper that posted/);
    });

    it('lets the booked carrier back out before pickup, putting the load back on the board', () => {
      const released: LoadEvent = {
        type: 'LoadBookingReleased',
        data: {
          carrierId: CARRIER_ID,
          carrierOrgId: CARRIER_ORG,
          reason: 'truck broke down',
          releasedBy: 'u-carrier',
          releasedAt: NOW,
        },
      };
      given(histories.assigned)
        .when(cmd('ReleaseBooking', { reason: 'truck broke down' }, carrierUser))
        .then([released]);
      const after = [...histories.assigned, released].reduce(evolve, initialState);
      expect(after.status).to.equal('posted');
      // Booked again by another carrier, or expired when its time is up, like any posting.
      given([...histories.assigned, released])
        .when(cmd('ExpireLoad', {}, admin, hours(30)))
        .then([{ type: 'LoadExpired', data: { expiredAt: hours(30) } }]);
      given(histories.booked)
        .when(cmd('ReleaseBooking', { reason: 'x' }))
        .thenThrows(DomainError, /carrier's own organisation/);
      given(histories.picked_up)
        .when(cmd('ReleaseBooking', { reason: 'x' }, carrierUser))
        .thenThrows(IllegalTransition, /picked up/);
      given(histories.booked)
        .when(cmd('ReleaseBooking', { reason: 'x' }, stranger))
        .thenThrows(DomainError, /own organisation/);
    });

    it('expires an unbooked posting once its time is up, not before', () => {
      given(histories.posted)
        .when(cmd('ExpireLoad', {}, admin, hours(29)))
        .thenThrows(RuleViolation, /runs until/);
      given(histories.posted)
        .when(cmd('ExpireLoad', {}, admin, hours(30)))
        .then([{ type: 'LoadExpired', data: { expiredAt: hours(30) } }]);
    });

    it('expires by the revised pickup window', () => {
      const revised: LoadEvent = {
        type: 'LoadRevised',
        data: { pickupWindow: { from: hours(30), to: hours(40) }, expiresAt: hours(40), revisedAt: NOW },
      };
      given([ev.posted(), revised])
        .when(cmd('ExpireLoad', {}, admin, hours(35)))
        .thenThrows(RuleViolation, /runs until/);
    });
  });

  it('derives the rate per mile in cents', () => {
    expect(ratePerMileCents(150_000, 270)).to.equal(556);
    expect(ratePerMileCents(150_000, 0)).to.equal(150_000);
  });
});
