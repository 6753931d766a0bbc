import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { z } from 'zod';
import { bigintText } from '../../src/domain/shared/codecs.js';
import { defineEvent, EventRegistry } from '../../src/domain/shared/event-schema.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { freshDatabase } from '../support/services.js';

describe('Reading events stored in an older shape', () => {
  let store: PostgresEventStore;
  before(async () => {
    store = new PostgresEventStore({ databaseUrl: await freshDatabase('schema') });
  });
  after(() => store.close());

  it('upcasts history written by older code, and writes the current version', async () => {
    // Yesterday's code wrote rates as dollars (float); today's stores integer cents as bigint text.
    const v1 = new EventRegistry([defineEvent({ type: 'RateQuoted', schema: z.object({ dollars: z.number() }) })]);
    const stream = `quote-${randomUUID()}`;
    const old = v1.encode('RateQuoted', { dollars: 1234.5 });
    await store.append(stream, [
      { id: randomUUID(), type: 'RateQuoted', data: old.data, metadata: { schemaVersion: old.schemaVersion } },
    ]);

    const v2 = new EventRegistry([
      defineEvent({
        type: 'RateQuoted',
        version: 2,
        schema: z.object({ cents: bigintText, currency: z.literal('USD') }),
        upcasters: {
          1: (d) => ({ cents: String(Math.round((d as { dollars: number }).dollars * 100)), currency: 'USD' }),
        },
      }),
    ]);
    const fresh = v2.encode('RateQuoted', { cents: 99_00n, currency: 'USD' });
    await store.append(stream, [
      { id: randomUUID(), type: 'RateQuoted', data: fresh.data, metadata: { schemaVersion: fresh.schemaVersion } },
    ]);

    const [a, b] = await store.readStream(stream);
    expect(a!.metadata.schemaVersion).to.equal(1);
    expect(a!.data).to.deep.equal({ dollars: 1234.5 });
    expect(v2.decode(a!)).to.deep.equal({ cents: 123_450n, currency: 'USD' });
    expect(b!.metadata.schemaVersion).to.equal(2);
    expect(v2.decode(b!)).to.deep.equal({ cents: 9_900n, currency: 'USD' });
  });
});
