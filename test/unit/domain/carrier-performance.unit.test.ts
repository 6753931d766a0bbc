import { expect } from 'chai';
import { outcomeOf } from '../../../src/domain/carrier/performance.js';
import { evolve, initialState } from '../../../src/domain/load/decider.js';
import type { LoadEvent } from '../../../src/domain/load/events.js';
import { CARRIER_ID, CARRIER_ORG, histories, hours, LOAD_ID } from './load-fixtures.js';

const stateOf = (events: LoadEvent[]) => events.reduce(evolve, initialState);
const delivered = (at: Date): LoadEvent => ({
  type: 'LoadDelivered',
  data: { deliveredAt: at, proofOfDelivery: { signedBy: 'J. Doe' } },
});

describe("A load's outcome for its carrier", () => {
  // The fixtures' delivery window ends at hours(48).
  it('is on time when delivered by the end of the delivery window', () => {
    expect(outcomeOf(stateOf(histories.in_transit), delivered(hours(48)))).to.deep.equal({
      carrierId: CARRIER_ID,
      loadId: LOAD_ID,
      outcome: 'on_time',
    });
    expect(outcomeOf(stateOf(histories.picked_up), delivered(hours(20)))).to.deep.include({ outcome: 'on_time' });
  });

  it('is late when delivered after it', () => {
    expect(outcomeOf(stateOf(histories.in_transit), delivered(new Date(hours(48).getTime() + 1)))).to.deep.include({
      outcome: 'late',
    });
  });

  it('is a cancellation when the carrier releases its booking', () => {
    const released: LoadEvent = {
      type: 'LoadBookingReleased',
      data: { carrierId: CARRIER_ID, carrierOrgId: CARRIER_ORG, reason: 'x', releasedBy: 'u', releasedAt: hours(1) },
    };
    expect(outcomeOf(stateOf(histories.assigned), released)).to.deep.equal({
      carrierId: CARRIER_ID,
      loadId: LOAD_ID,
      outcome: 'cancelled',
    });
  });

  it('says nothing of the carrier when the shipper cancels, nor for other events', () => {
    const cancelled: LoadEvent = {
      type: 'LoadCancelled',
      data: { reason: 'x', cancelledBy: 'u-shipper', cancelledAt: hours(1) },
    };
    expect(outcomeOf(stateOf(histories.assigned), cancelled)).to.equal(undefined);
    expect(outcomeOf(stateOf(histories.assigned), { type: 'LoadPickedUp', data: { pickedUpAt: hours(1) } })).to.equal(
      undefined,
    );
    expect(outcomeOf(initialState, delivered(hours(1)))).to.equal(undefined);
  });
});
