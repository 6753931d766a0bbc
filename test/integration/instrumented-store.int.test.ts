import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { WrongExpectedVersion } from '../../src/eventstore/errors.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { instrumentStore } from '../../src/eventstore/instrumented.js';
import { Metrics } from '../../src/infra/metrics.js';
import { freshDatabase } from '../support/services.js';

describe('The measured event store', () => {
  it('counts appends by outcome, conflicts, and events by type, and passes everything else through', async () => {
    const raw = new PostgresEventStore({ databaseUrl: await freshDatabase('instrumented') });
    const metrics = new Metrics();
    const store = instrumentStore(raw, metrics);
    try {
      const stream = `load-${randomUUID()}`;
      await store.append(
        stream,
        [
          { id: randomUUID(), type: 'LoadPosted', data: {} },
          { id: randomUUID(), type: 'BidPlaced', data: {} },
        ],
        { expectedRevision: 'no_stream' },
      );
      const err = await store
        .append(stream, [{ id: randomUUID(), type: 'LoadBooked', data: {} }], { expectedRevision: 'no_stream' })
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(WrongExpectedVersion);
      expect((await store.readStream(stream)).map((e) => e.type)).to.deep.equal(['LoadPosted', 'BidPlaced']);
      expect(store.name).to.equal(raw.name);
      const text = await metrics.text();
      expect(text).to.match(/events_appended_total\{type="LoadPosted"\} 1/);
      expect(text).to.not.match(/events_appended_total\{type="LoadBooked"\}/);
      expect(text).to.match(/eventstore_append_conflicts_total 1/);
      expect(text).to.match(/eventstore_append_duration_seconds_count\{outcome="ok"\} 1/);
      expect(text).to.match(/eventstore_append_duration_seconds_count\{outcome="conflict"\} 1/);
    } finally {
      await raw.close();
    }
  });
});
