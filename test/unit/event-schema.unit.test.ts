import { expect } from 'chai';
import { z } from 'zod';
import { bigintText, isoDateTime } from '../../src/domain/shared/codecs.js';
import { defineEvent, EventRegistry, EventSchemaError } from '../../src/domain/shared/event-schema.js';

// A sample event whose shape changed twice: v1 had `weight` in pounds as a number and one `city`;
// v2 split the place into city/state; v3 carries weight as bigint text and a posted-at date.
const v3 = z.object({
  weightLb: bigintText,
  origin: z.object({ city: z.string(), state: z.string().length(2) }),
  postedAt: isoDateTime,
});
const SamplePosted = defineEvent({
  type: 'SamplePosted',
  version: 3,
  schema: v3,
  upcasters: {
    1: (d) => {
      const { weight, city } = d as { weight: number; city: string };
      const [name, state] = city.split(', ');
      return { weight, origin: { city: name, state } };
    },
    2: (d) => {
      const { weight, origin } = d as { weight: number; origin: unknown };
      return { weightLb: String(weight), origin, postedAt: '2020-01-01T00:00:00.000Z' };
    },
  },
});

describe('Event schema versions', () => {
  const registry = new EventRegistry([SamplePosted]);

  it('round-trips bigints and dates through JSON without loss', () => {
    const data = {
      weightLb: 2n ** 60n,
      origin: { city: 'Austin', state: 'TX' },
      postedAt: new Date('2026-11-22T10:00:00.000Z'),
    };
    const { data: json, schemaVersion } = registry.encode('SamplePosted', data);
    expect(schemaVersion).to.equal(3);
    const stored = JSON.parse(JSON.stringify(json)) as unknown;
    expect(stored).to.deep.equal({
      weightLb: '1152921504606846976',
      origin: { city: 'Austin', state: 'TX' },
      postedAt: '2026-11-22T10:00:00.000Z',
    });
    expect(registry.decode({ type: 'SamplePosted', data: stored, metadata: { schemaVersion } })).to.deep.equal(data);
  });

  it('upcasts each older stored shape to the current one', () => {
    const fromV1 = registry.decode<z.output<typeof v3>>({
      type: 'SamplePosted',
      data: { weight: 42000, city: 'Tulsa, OK' },
      metadata: { schemaVersion: 1 },
    });
    expect(fromV1.weightLb).to.equal(42000n);
    expect(fromV1.origin).to.deep.equal({ city: 'Tulsa', state: 'OK' });
    expect(fromV1.postedAt).to.be.instanceOf(Date);
    const fromV2 = registry.decode<z.output<typeof v3>>({
      type: 'SamplePosted',
      data: { weight: 1, origin: { city: 'Reno', state: 'NV' } },
      metadata: { schemaVersion: 2 },
    });
    expect(fromV2.weightLb).to.equal(1n);
  });

  it('treats an event without a version as version 1', () => {
    const d = registry.decode<z.output<typeof v3>>({
      type: 'SamplePosted',
      data: { weight: 5, city: 'Waco, TX' },
      metadata: {},
    });
    expect(d.origin.state).to.equal('TX');
  });

  it('refuses invalid data, unknown types and versions newer than the code', () => {
    expect(() =>
      registry.encode('SamplePosted', { weightLb: 1n, origin: { city: 'A', state: 'Texas' }, postedAt: new Date() }),
    ).to.throw(EventSchemaError, /state/);
    expect(() => registry.decode({ type: 'Nope', data: {}, metadata: {} })).to.throw(
      EventSchemaError,
      /Unknown event type/,
    );
    expect(() => registry.decode({ type: 'SamplePosted', data: {}, metadata: { schemaVersion: 4 } })).to.throw(
      EventSchemaError,
      /newer/,
    );
  });

  it('refuses a definition that skips an upcaster', () => {
    expect(() => defineEvent({ type: 'X', version: 2, schema: z.object({}) })).to.throw(/upcaster from version 1/);
  });
});
