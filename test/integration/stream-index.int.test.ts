import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { streamIndexProjector } from '../../src/read-models/stream-index/projector.js';
import { tableNames } from '../../src/projections/types.js';
import { freshDatabase } from '../support/services.js';

let seq = 0n;
function recorded(streamId: string, revision: bigint, type = 'Something', at = new Date()): RecordedEvent {
  seq++;
  return {
    id: randomUUID(),
    type,
    streamId,
    revision,
    position: { commit: 100n, prepare: seq },
    data: {},
    metadata: {},
    createdAt: at,
  };
}

describe('The stream_index projection', () => {
  let knex: Knex;
  const t = tableNames(99);
  const apply = (events: RecordedEvent[]) => knex.transaction((trx) => streamIndexProjector.apply(trx, events, t));
  const rows = () => knex(t('stream_index')).orderBy('stream_id').select();

  before(async () => {
    knex = createKnex(await freshDatabase('stream_index'), 2);
  });
  beforeEach(async () => {
    await knex.transaction(async (trx) => {
      await trx.schema.dropTableIfExists(t('stream_index'));
      await streamIndexProjector.setup(trx, t);
    });
  });
  after(() => knex.destroy());

  it('adds a row for a new stream with its category and first event', async () => {
    const at = new Date('2026-11-20T10:00:00Z');
    const e = recorded('load-1', 0n, 'LoadPosted', at);
    await apply([e]);
    const [row] = await rows();
    expect(row).to.deep.include({
      stream_id: 'load-1',
      category: 'load',
      last_revision: '0',
      last_event_type: 'LoadPosted',
      last_position: `100/${e.position.prepare}`,
    });
    expect(row.first_event_at.toISOString()).to.equal(at.toISOString());
  });

  it('moves a stream to its newest event and keeps when it began', async () => {
    const first = new Date('2026-11-20T10:00:00Z');
    const later = new Date('2026-11-21T10:00:00Z');
    await apply([recorded('load-1', 0n, 'LoadPosted', first)]);
    await apply([recorded('load-1', 1n, 'LoadBooked', later)]);
    const [row] = await rows();
    expect(row).to.deep.include({ last_revision: '1', last_event_type: 'LoadBooked' });
    expect(row.first_event_at.toISOString()).to.equal(first.toISOString());
    expect(row.last_event_at.toISOString()).to.equal(later.toISOString());
  });

  it('coalesces several events of one stream in a batch into one row', async () => {
    await apply([
      recorded('carrier-9', 0n, 'A'),
      recorded('load-2', 0n, 'B'),
      recorded('carrier-9', 1n, 'C'),
      recorded('carrier-9', 2n, 'D'),
    ]);
    const all = await rows();
    expect(all.map((r) => [r.stream_id, r.last_revision, r.last_event_type])).to.deep.equal([
      ['carrier-9', '2', 'D'],
      ['load-2', '0', 'B'],
    ]);
  });

  it('changes nothing when the same events are applied twice, or an older one arrives late', async () => {
    const events = [recorded('load-1', 0n, 'A'), recorded('load-1', 1n, 'B'), recorded('payment-3', 0n, 'C')];
    await apply(events);
    const once = await rows();
    await apply(events);
    await apply([events[0]!]);
    expect(await rows()).to.deep.equal(once);
  });
});
