import { expect } from 'chai';
import { loadEventDefinitions, loadEvents, type LoadEvent } from '../../../src/domain/load/events.js';
import { ev } from './load-fixtures.js';

describe('Load events through their codec', () => {
  const samples: LoadEvent[] = [
    ev.posted(),
    {
      type: 'LoadRevised',
      data: {
        rateCents: 1,
        expiresAt: new Date('2026-11-23T00:00:00.000Z'),
        revisedAt: new Date('2026-11-22T00:00:00.000Z'),
      },
    },
    ev.bid(1),
    {
      type: 'BidWithdrawn',
      data: {
        bidId: '88888888-8888-4888-8888-000000000001',
        carrierId: '55555555-5555-4555-8555-555555555555',
        withdrawnAt: new Date(),
      },
    },
    {
      type: 'BidAccepted',
      data: {
        bidId: '88888888-8888-4888-8888-000000000001',
        carrierId: '55555555-5555-4555-8555-555555555555',
        amountCents: 5,
        acceptedAt: new Date(),
      },
    },
    ev.booked(),
    ev.assigned(),
    ev.pickedUp(),
    ev.inTransit(),
    ev.delivered(),
    ev.cancelled(),
    {
      type: 'LoadBookingReleased',
      data: {
        carrierId: '55555555-5555-4555-8555-555555555555',
        carrierOrgId: '22222222-2222-4222-8222-222222222222',
        reason: 'x',
        releasedBy: 'u',
        releasedAt: new Date(),
      },
    },
    { type: 'LoadArrived', data: { site: 'pickup', arrivedAt: new Date(), lat: 32.77, lng: -96.79, distanceMi: 0.2 } },
    {
      type: 'LoadFlaggedForReview',
      data: {
        reason: 'stale_location',
        check: 'pickup',
        distanceMi: 1.5,
        fixRecordedAt: new Date(),
        flaggedAt: new Date(),
      },
    },
    { type: 'LoadFlaggedForReview', data: { reason: 'no_location', check: 'pickup', flaggedAt: new Date() } },
    ev.expired(),
  ];

  it('has a sample for every event type', () => {
    expect([...new Set(samples.map((s) => s.type))].sort()).to.deep.equal(
      loadEventDefinitions.map((d) => d.type).sort(),
    );
  });

  for (const sample of samples) {
    it(`round-trips ${sample.type} through JSON with its dates intact`, () => {
      const { data, schemaVersion } = loadEvents.encode(sample.type, sample.data);
      const stored = JSON.parse(JSON.stringify(data)) as unknown;
      expect(loadEvents.decode({ type: sample.type, data: stored, metadata: { schemaVersion } })).to.deep.equal(
        sample.data,
      );
    });
  }
});
