import { expect } from 'chai';
import { authorize, loadVisibleTo, partiesOf } from '../../../src/domain/load/access.js';
import type { LoadCommand } from '../../../src/domain/load/commands.js';
import { evolve, initialState, type LoadState, type LoadStatus } from '../../../src/domain/load/decider.js';
import type { LoadEvent } from '../../../src/domain/load/events.js';
import type { Actor } from '../../../src/domain/shared/actor.js';
import { Forbidden, NotFound } from '../../../src/domain/shared/errors.js';
import {
  admin,
  bidId,
  CARRIER_ORG,
  carrierUser,
  cmd,
  details,
  ev,
  goodCarrier,
  histories,
  LOAD_ID,
  OTHER_ORG,
  shipper,
} from './load-fixtures.js';

const fold = (events: LoadEvent[]): LoadState => events.reduce(evolve, initialState);
const otherCarrier = { ...goodCarrier, carrierId: '99999999-9999-4999-8999-999999999999', orgId: OTHER_ORG };

// Every state, the posted one with an open bid of the booked-to-be carrier, and a load cancelled
// while booked (its carrier still sees it).
const states: Record<LoadStatus | 'cancelled_booked', LoadEvent[]> = {
  ...histories,
  posted: [ev.posted(), ev.bid(1)],
  cancelled_booked: [ev.posted(), ev.booked(), ev.cancelled()],
};
type StateName = keyof typeof states;

const commands = (actor: Actor): LoadCommand[] => [
  cmd('ReviseLoad', { rateCents: 1 }, actor),
  cmd(
    'PlaceBid',
    { bidId: bidId(9), carrier: actor.orgId === CARRIER_ORG ? goodCarrier : otherCarrier, amountCents: 1 },
    actor,
  ),
  cmd('WithdrawBid', { bidId: bidId(1) }, actor),
  cmd('AcceptBid', { bidId: bidId(1), carrier: goodCarrier }, actor),
  cmd('BookNow', { carrier: actor.orgId === CARRIER_ORG ? goodCarrier : otherCarrier }, actor),
  cmd('AssignDriver', { driverId: actor.userId, truckId: 'T-1' }, actor),
  cmd('ConfirmPickup', {}, actor),
  cmd('MarkInTransit', {}, actor),
  cmd('DeliverLoad', { signedBy: 'x' }, actor),
  cmd('CancelLoad', { reason: 'x' }, actor),
  cmd('ReleaseBooking', { reason: 'x' }, actor),
];

const outcome = (c: LoadCommand, state: LoadState): 'ok' | 'not-found' | 'forbidden' => {
  try {
    authorize(c, state, LOAD_ID);
    return 'ok';
  } catch (err) {
    if (err instanceof NotFound) return 'not-found';
    if (err instanceof Forbidden) return 'forbidden';
    throw err;
  }
};

describe('Who may act on a load (decided before the decider)', () => {
  const ALL: StateName[] = Object.keys(states) as StateName[];
  const actors: { name: string; actor: Actor; sees: StateName[] }[] = [
    {
      name: 'another shipper',
      actor: { userId: 'u-s2', orgId: OTHER_ORG, roles: ['shipper', 'dispatcher'] },
      sees: ['posted'],
    },
    { name: 'another carrier', actor: { userId: 'u-c2', orgId: OTHER_ORG, roles: ['carrier'] }, sees: ['posted'] },
    {
      name: "another carrier's driver",
      actor: { userId: 'u-d2', orgId: OTHER_ORG, roles: ['driver'] },
      sees: ['posted'],
    },
    {
      name: 'a shipper-only user of another organisation',
      actor: { userId: 'u-s3', orgId: OTHER_ORG, roles: ['shipper'] },
      sees: [],
    },
    {
      name: 'the booked carrier',
      actor: carrierUser,
      sees: ['posted', 'booked', 'assigned', 'picked_up', 'in_transit', 'delivered', 'cancelled_booked'],
    },
    { name: 'the shipper', actor: shipper, sees: ALL.filter((s) => s !== 'none') },
  ];

  for (const { name, actor, sees } of actors) {
    it(`answers ${name} the read's 404 for every command on a load it cannot see, in every state`, () => {
      for (const stateName of ALL) {
        const state = fold(states[stateName]);
        const visible = partiesOf(state) !== undefined && loadVisibleTo(actor, partiesOf(state)!);
        expect(visible, `${stateName} visible`).to.equal(sees.includes(stateName));
        if (visible) continue;
        for (const c of commands(actor)) expect(outcome(c, state), `${c.type} on ${stateName}`).to.equal('not-found');
      }
    });
  }

  it('lets nobody but the shipper (and admins) revise, cancel or accept a bid on a load others can see', () => {
    const posted = fold(states.posted);
    for (const actor of [
      carrierUser,
      { userId: 'u-c2', orgId: OTHER_ORG, roles: ['carrier', 'dispatcher'] } as Actor,
    ]) {
      for (const type of ['ReviseLoad', 'CancelLoad', 'AcceptBid'] as const) {
        expect(
          outcome(
            commands(actor).find((c) => c.type === type)!,
            posted,
          ),
          type,
        ).to.equal('forbidden');
      }
    }
    for (const actor of [shipper, admin])
      for (const type of ['ReviseLoad', 'CancelLoad', 'AcceptBid'] as const)
        expect(
          outcome(
            commands(actor).find((c) => c.type === type)!,
            posted,
          ),
        ).to.equal('ok');
  });

  it('lets a carrier bid and book only for a carrier of its own organisation', () => {
    const posted = fold(states.posted);
    expect(outcome(cmd('BookNow', { carrier: goodCarrier }, carrierUser), posted)).to.equal('ok');
    expect(outcome(cmd('BookNow', { carrier: otherCarrier }, carrierUser), posted)).to.equal('forbidden');
    expect(
      outcome(cmd('PlaceBid', { bidId: bidId(2), carrier: otherCarrier, amountCents: 1 }, carrierUser), posted),
    ).to.equal('forbidden');
  });

  it("shows another carrier's bid to nobody but its carrier: withdrawing it is a 404", () => {
    const posted = fold(states.posted);
    const other: Actor = { userId: 'u-c2', orgId: OTHER_ORG, roles: ['carrier'] };
    expect(outcome(cmd('WithdrawBid', { bidId: bidId(1) }, other), posted)).to.equal('not-found');
    expect(outcome(cmd('WithdrawBid', { bidId: bidId(1) }, carrierUser), posted)).to.equal('ok');
    // A bid that does not exist looks the same; the shipper does not withdraw bids at all.
    expect(outcome(cmd('WithdrawBid', { bidId: bidId(7) }, other), posted)).to.equal('not-found');
    expect(outcome(cmd('WithdrawBid', { bidId: bidId(1) }, shipper), posted)).to.equal('forbidden');
  });

  it('lets only the booked carrier haul: before a booking nobody (403, not a 409 that tells the state)', () => {
    for (const stateName of [
      'booked',
      'assigned',
      'picked_up',
      'in_transit',
      'delivered',
      'cancelled_booked',
    ] as const) {
      const state = fold(states[stateName]);
      for (const type of ['AssignDriver', 'ConfirmPickup', 'MarkInTransit', 'DeliverLoad', 'ReleaseBooking'] as const) {
        expect(
          outcome(
            commands(carrierUser).find((c) => c.type === type)!,
            state,
          ),
          `${type} on ${stateName}`,
        ).to.equal('ok');
        expect(
          outcome(
            commands(shipper).find((c) => c.type === type)!,
            state,
          ),
          `${type} on ${stateName} by the shipper`,
        ).to.equal('forbidden');
      }
    }
    for (const stateName of ['posted', 'cancelled', 'expired'] as const) {
      expect(outcome(cmd('ConfirmPickup', {}, shipper), fold(states[stateName])), stateName).to.equal('forbidden');
      // A carrier sees a posted load only while it is posted: after that, the read's 404.
      expect(outcome(cmd('ConfirmPickup', {}, carrierUser), fold(states[stateName])), stateName).to.equal(
        stateName === 'posted' ? 'forbidden' : 'not-found',
      );
      expect(outcome(cmd('ConfirmPickup', {}, admin), fold(states[stateName])), stateName).to.equal('ok');
    }
  });

  it('gives admins every load that exists, and nobody one that does not', () => {
    for (const stateName of ALL) {
      const state = fold(states[stateName]);
      for (const c of commands(admin))
        expect(outcome(c, state), `${c.type} on ${stateName}`).to.equal(stateName === 'none' ? 'not-found' : 'ok');
    }
  });

  it('lets a shipper post only for its own organisation, and platform commands through to the decider', () => {
    expect(outcome(cmd('PostLoad', { ...details, loadId: LOAD_ID }, shipper), initialState)).to.equal('ok');
    expect(
      outcome(cmd('PostLoad', { ...details, loadId: LOAD_ID, shipperOrgId: OTHER_ORG }, shipper), initialState),
    ).to.equal('forbidden');
    // An id taken: the shipper's own load is the decider's 409; another's, the read's 404 (or a 403 when it sees it posted).
    expect(outcome(cmd('PostLoad', { ...details, loadId: LOAD_ID }, shipper), fold(states.booked))).to.equal('ok');
    const other: Actor = { userId: 'u-s2', orgId: OTHER_ORG, roles: ['shipper'] };
    expect(
      outcome(cmd('PostLoad', { ...details, loadId: LOAD_ID, shipperOrgId: OTHER_ORG }, other), fold(states.booked)),
    ).to.equal('not-found');
    const dispatcher: Actor = { ...other, roles: ['shipper', 'dispatcher'] };
    expect(
      outcome(
        cmd('PostLoad', { ...details, loadId: LOAD_ID, shipperOrgId: OTHER_ORG }, dispatcher),
        fold(states.posted),
      ),
    ).to.equal('forbidden');
    const system: Actor = { userId: 'system:load-expiry', orgId: 'system:load-expiry', roles: [] };
    expect(outcome(cmd('ExpireLoad', {}, system), fold(states.posted))).to.equal('ok');
  });

  it('keeps the carrier of a load cancelled while booked among those who see it', () => {
    const state = fold(states.cancelled_booked);
    expect(state.status).to.equal('cancelled');
    expect(partiesOf(state)).to.deep.include({ shipperOrgId: details.shipperOrgId, carrierOrgId: CARRIER_ORG });
  });
});
