import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { checkPings, DEFAULT_PING_LIMITS } from '../../../src/domain/tracking/pings.js';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const ping = (o: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  lat: 29.76,
  lng: -95.37,
  speedMph: 50,
  recordedAt: '2026-11-22T11:59:00.000Z',
  ...o,
});

describe('Checking a batch of pings', () => {
  it('keeps good pings with their optional fields, as dates', () => {
    const p = ping({ headingDeg: 359.5, accuracyM: 4 });
    const { good, rejected } = checkPings([p], NOW);
    expect(rejected).to.deep.equal([]);
    expect(good).to.deep.equal([
      {
        pingId: p.id,
        lat: 29.76,
        lng: -95.37,
        speedMph: 50,
        headingDeg: 359.5,
        accuracyM: 4,
        recordedAt: new Date(p.recordedAt),
      },
    ]);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['a latitude out of range', { lat: 90.1 }, /lat/],
    ['a longitude out of range', { lng: -180.5 }, /lng/],
    ['a heading of 360', { headingDeg: 360 }, /headingDeg/],
    ['a negative speed', { speedMph: -3 }, /speedMph/],
    ['a speed no truck makes', { speedMph: 111 }, /not a truck/],
    ['a time past the allowed clock skew', { recordedAt: '2026-11-22T12:02:01.000Z' }, /future/],
    ['a time older than the bound', { recordedAt: '2026-11-19T11:59:59.000Z' }, /older than 72 hours/],
    ['a time without an offset', { recordedAt: '2026-11-22T11:59:00' }, /recordedAt/],
    ['an id that is not a uuid', { id: 'abc' }, /id/],
  ];
  for (const [what, o, why] of bad) {
    it(`refuses ${what}, by index, keeping the rest`, () => {
      const { good, rejected } = checkPings([ping(), ping(o), ping()], NOW);
      expect(good).to.have.length(2);
      expect(rejected).to.have.length(1);
      expect(rejected[0]!.index).to.equal(1);
      expect(rejected[0]!.errors.join('; ')).to.match(why);
    });
  }

  it('accepts times at the very edges of the bounds', () => {
    const edge = [
      ping({ recordedAt: new Date(NOW.getTime() + DEFAULT_PING_LIMITS.futureSkewMs).toISOString() }),
      ping({ recordedAt: new Date(NOW.getTime() - DEFAULT_PING_LIMITS.maxAgeMs).toISOString() }),
    ];
    expect(checkPings(edge, NOW).good).to.have.length(2);
  });

  it('keeps a ping repeated within the batch once, and refuses what is not a ping at all', () => {
    const p = ping();
    const { good, rejected } = checkPings([p, p, null, 'x'], NOW);
    expect(good.map((g) => g.pingId)).to.deep.equal([p.id]);
    expect(rejected.map((r) => r.index)).to.deep.equal([2, 3]);
  });

  it('uses the limits it is given', () => {
    expect(
      checkPings([ping({ speedMph: 80 })], NOW, { ...DEFAULT_PING_LIMITS, maxSpeedMph: 70 }).rejected,
    ).to.have.length(1);
  });
});
