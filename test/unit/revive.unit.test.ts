import { expect } from 'chai';
import { z } from 'zod';
import { carrierEvents } from '../../src/domain/carrier/events.js';
import { loadEvents } from '../../src/domain/load/events.js';
import { organisationEvents } from '../../src/domain/organisation/events.js';
import { paymentEvents } from '../../src/domain/payment/events.js';
import { bigintText, isoDateTime } from '../../src/domain/shared/codecs.js';
import { defineEvent, EventRegistry, EventSchemaError } from '../../src/domain/shared/event-schema.js';
import { compileReviver } from '../../src/domain/shared/revive.js';
import { trackingEvents } from '../../src/domain/tracking/events.js';

const item = z.object({ sku: z.string(), at: isoDateTime, qty: bigintText.optional() });
const schema = z.object({
  id: z.uuid(),
  at: isoDateTime,
  amount: bigintText,
  note: z.string().optional(),
  closedAt: isoDateTime.nullable(),
  flags: z.object({ a: z.boolean().default(false), b: z.boolean().default(true) }).default({ a: false, b: false }),
  currency: z.literal('USD').default('USD'),
  kind: z.enum(['x', 'y']),
  items: z.array(item),
  tags: z.array(z.string()).optional(),
});

describe('Decoding stored events without checking them again', () => {
  const revive = compileReviver(schema)!;

  it('gives exactly what zod decodes: codecs, defaults, optional and nullable fields, arrays, unknown keys dropped', () => {
    const stored = [
      {
        id: '6f1c9a52-8d0e-4b7a-9c3f-2e5d8a1b4c70',
        at: '2026-12-01T10:00:00.000Z',
        amount: '123456789012345678901',
        closedAt: null,
        kind: 'x',
        items: [
          { sku: 'a', at: '2026-12-01T11:00:00+02:00', qty: '3', extra: 1 },
          { sku: 'b', at: '2026-12-01T12:00:00.000Z' },
        ],
        unknown: { deep: true },
      },
      {
        id: '6f1c9a52-8d0e-4b7a-9c3f-2e5d8a1b4c71',
        at: '2026-12-01T10:00:00Z',
        amount: '-1',
        note: 'n',
        closedAt: '2026-12-02T00:00:00.000Z',
        flags: { a: true },
        currency: 'USD',
        kind: 'y',
        items: [],
        tags: ['t'],
      },
    ];
    for (const s of stored)
      expect(revive(structuredClone(s))).to.deep.equal(z.decode(schema, structuredClone(s) as never));
    const first = revive(stored[0]) as z.output<typeof schema>;
    expect(first.amount).to.equal(123456789012345678901n);
    expect(first.items[0]!.at).to.be.instanceOf(Date);
    expect(first.flags).to.deep.equal({ a: false, b: false });
    expect(first).to.not.have.property('note');
    expect(first).to.not.have.property('unknown');
  });

  it('compiles every event type of every aggregate (a new schema construct must be taught to revive.ts, or it decodes with zod, slowly)', () => {
    for (const registry of [loadEvents, carrierEvents, organisationEvents, paymentEvents, trackingEvents]) {
      for (const type of registry.types())
        expect(compileReviver(registry.definition(type).schema), type).to.be.a('function');
    }
  });

  it('leaves to zod what it cannot decode exactly as zod would', () => {
    expect(compileReviver(z.object({ s: z.string().transform((x) => x.length) }))).to.equal(undefined);
    expect(compileReviver(z.looseObject({ a: z.string() }))).to.equal(undefined);
    expect(compileReviver(z.union([isoDateTime, z.number()]))).to.equal(undefined);
    expect(compileReviver(z.lazy(() => z.string()))).to.equal(undefined);
    expect(compileReviver(z.string().pipe(z.string()))).to.equal(undefined);
    expect(compileReviver(z.union([z.string(), z.number()]))).to.be.a('function');
  });

  it('reads current-version data fast, upcasts older data through zod, and names what is wrong with data that is not an event at all', () => {
    const Sample = defineEvent({
      type: 'Sample',
      version: 2,
      schema: z.object({ at: isoDateTime, n: z.number() }),
      upcasters: { 1: (d) => ({ ...(d as object), n: 0 }) },
    });
    const registry = new EventRegistry([Sample]);
    expect(
      registry.decode({
        type: 'Sample',
        data: { at: '2026-01-01T00:00:00.000Z', n: 2 },
        metadata: { schemaVersion: 2 },
      }),
    ).to.deep.equal({ at: new Date('2026-01-01T00:00:00.000Z'), n: 2 });
    expect(
      registry.decode({ type: 'Sample', data: { at: '2026-01-01T00:00:00.000Z' }, metadata: { schemaVersion: 1 } }),
    ).to.deep.equal({ at: new Date('2026-01-01T00:00:00.000Z'), n: 0 });
    expect(() =>
      registry.decode({ type: 'Sample', data: { at: 'not a date' }, metadata: { schemaVersion: 1 } }),
    ).to.throw(EventSchemaError, /at/);
    expect(() => registry.decode({ type: 'Sample', data: 'garbage', metadata: { schemaVersion: 2 } })).to.throw(
      EventSchemaError,
      /object/,
    );
  });

  it('in the test suite, checks each fast decode against zod and fails on a difference', () => {
    expect(EventRegistry.verifyFastDecode).to.equal(true);
    // Data that zod refuses but the reviver would pass on: the check exposes it.
    const registry = new EventRegistry([defineEvent({ type: 'Checked', schema: z.object({ n: z.number().int() }) })]);
    expect(() => registry.decode({ type: 'Checked', data: { n: 1.5 }, metadata: { schemaVersion: 1 } })).to.throw(
      EventSchemaError,
    );
  });
});
