import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { loadEvents } from '../../src/domain/load/events.js';
import type { Actor } from '../../src/domain/shared/actor.js';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { greatCircleMiles } from '../../src/read-models/load-board/cells.js';
import { loadBoardProjector } from '../../src/read-models/load-board/projector.js';
import {
  boardQuery,
  type BoardFilters,
  type Keyset,
  queryBoard,
  radiusCells,
} from '../../src/read-models/load-board/query.js';
import { tableNames } from '../../src/projections/types.js';
import { freshDatabase } from '../support/services.js';
import { admin, details, hours } from '../unit/domain/load-fixtures.js';

describe('Radius pages in pickup order, read grid cell by grid cell', () => {
  let knex: Knex;
  const t = tableNames(1);
  const dallas = { lat: 32.78, lng: -96.8 };
  const carrier: Actor = { userId: 'u-c', orgId: randomUUID(), roles: ['carrier'] };
  // A hub inside the radius, one just outside it (its cells cross the edge), scattered loads, and
  // pickups that tie.
  const spots = [
    { lat: 32.78, lng: -96.8, n: 90, equipment: 'flatbed' },
    { lat: 32.75, lng: -97.33, n: 40, equipment: 'dry_van' },
    { lat: 31.55, lng: -97.15, n: 60, equipment: 'flatbed' }, // Waco, 90 miles out
    ...Array.from({ length: 30 }, (_, i) => ({
      lat: 31.5 + i * 0.1,
      lng: -98 + i * 0.08,
      n: 2,
      equipment: i % 2 ? 'flatbed' : 'step_deck',
    })),
  ];
  const loads: { id: string; lat: number; lng: number; pickup: Date; equipment: string; status: string }[] = [];

  before(async () => {
    knex = createKnex(await freshDatabase('board_cells'), 2);
    await knex.transaction(async (trx) => {
      await loadBoardProjector.setup(trx, t);
      for (const sql of loadBoardProjector.indexes!(t)) await trx.raw(sql);
      for (const table of loadBoardProjector.tables)
        await trx.raw('create view ?? as select * from ??', [table, t(table)]);
    });
    let seq = 0n;
    const events: RecordedEvent[] = [];
    for (const s of spots) {
      for (let k = 0; k < s.n; k++) {
        const loadId = randomUUID();
        // Every third load of a spot shares its pickup time with the one before it.
        const pickup = hours(2 + Math.floor((loads.length * 2) / 3) * 0.5);
        const lat = s.lat + ((k % 7) - 3) * 0.01;
        const lng = s.lng + ((k % 5) - 2) * 0.01;
        const { data, schemaVersion } = loadEvents.encode('LoadPosted', {
          ...details,
          origin: { ...details.origin, lat, lng },
          equipmentType: s.equipment as typeof details.equipmentType,
          pickupWindow: { from: pickup, to: hours(200) },
          loadId,
          tripMiles: 300,
          tripMilesEstimated: true,
          postedAt: hours(0),
          expiresAt: hours(300),
        });
        events.push({
          id: randomUUID(),
          type: 'LoadPosted',
          streamId: `load-${loadId}`,
          revision: 0n,
          position: { commit: 9n, prepare: ++seq },
          data,
          metadata: { schemaVersion },
          createdAt: hours(0),
        });
        loads.push({ id: loadId, lat, lng, pickup, equipment: s.equipment, status: 'posted' });
      }
    }
    // Some are booked: off the open board.
    for (const l of loads.filter((_, i) => i % 11 === 0)) {
      const { data, schemaVersion } = loadEvents.encode('LoadBooked', {
        carrierId: randomUUID(),
        carrierOrgId: randomUUID(),
        rateCents: 100_000,
        via: 'book_now',
        bookedAt: hours(1),
      });
      events.push({
        id: randomUUID(),
        type: 'LoadBooked',
        streamId: `load-${l.id}`,
        revision: 1n,
        position: { commit: 9n, prepare: ++seq },
        data,
        metadata: { schemaVersion },
        createdAt: hours(1),
      });
      l.status = 'booked';
    }
    await knex.transaction((trx) => loadBoardProjector.apply(trx, events, t));
    await knex.raw('analyze ??', [t('load_board')]);
  });
  after(() => knex.destroy());

  /** What the page order must be: every open load within the radius, by (pickup, load id). */
  const expected = (radiusMi: number, dir: 'asc' | 'desc', equipment?: string) =>
    loads
      .filter(
        (l) =>
          l.status === 'posted' && (!equipment || l.equipment === equipment) && greatCircleMiles(dallas, l) <= radiusMi,
      )
      .sort((a, b) => (dir === 'asc' ? 1 : -1) * (a.pickup.getTime() - b.pickup.getTime() || (a.id < b.id ? -1 : 1)))
      .map((l) => l.id);

  const pageThrough = async (filters: BoardFilters, limit: number, order?: 'asc' | 'desc') => {
    const seen: string[] = [];
    let after: Keyset | undefined;
    for (let i = 0; i < 200; i++) {
      const page = await queryBoard(knex, {
        filters,
        actor: carrier,
        sort: 'pickup',
        ...(order ? { order } : {}),
        limit,
        now: hours(0),
        ...(after ? { after } : {}),
      });
      seen.push(...page.rows.map((r) => r.load_id));
      if (!page.next) break;
      after = page.next;
    }
    return seen;
  };

  for (const [radiusMi, limit] of [
    [60, 25],
    [60, 7],
    [100, 25],
    [100, 300],
    [20, 10],
  ] as const) {
    it(`pages every open load within ${radiusMi} miles, ${limit} at a time, in pickup order with ties by id`, async () => {
      const want = expected(radiusMi, 'asc');
      expect(want.length).to.be.greaterThan(limit === 300 ? 0 : limit);
      expect(await pageThrough({ statuses: ['posted'], origin: { ...dallas, radiusMi } }, limit)).to.deep.equal(want);
    });
  }

  it('pages latest pickup first, and with other filters, the same way', async () => {
    expect(await pageThrough({ statuses: ['posted'], origin: { ...dallas, radiusMi: 100 } }, 9, 'desc')).to.deep.equal(
      expected(100, 'desc'),
    );
    expect(
      await pageThrough({ statuses: ['posted'], origin: { ...dallas, radiusMi: 100 }, equipment: ['flatbed'] }, 8),
    ).to.deep.equal(expected(100, 'asc', 'flatbed'));
  });

  it('reads each cell from its own index instead of every load the GiST index finds', async () => {
    const opts = {
      filters: { statuses: ['posted'] as const, origin: { ...dallas, radiusMi: 60 } },
      actor: admin,
      sort: 'pickup' as const,
      limit: 25,
      now: hours(0),
    };
    const cells = radiusCells({ ...opts, filters: { ...opts.filters, statuses: ['posted'] } })!;
    expect(cells.prefix).to.equal('origin');
    const q = boardQuery(
      knex,
      { ...opts, filters: { ...opts.filters, statuses: ['posted'] } },
      { prefix: 'origin', cells: cells.cells.inside },
    );
    await knex.raw('set enable_seqscan = off');
    const plan = (await knex.raw(`explain ${q.toString()}`)).rows
      .map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'])
      .join('\n');
    await knex.raw('reset enable_seqscan');
    expect(plan).to.match(/Index Scan using load_board__g1_origin_cell_pickup_posted/);
    expect(plan).to.not.match(/geo_posted/);
  });

  it('keeps to the GiST index for other sorts, other statuses and wide radii', () => {
    const base = { actor: admin, limit: 25, now: hours(0) };
    expect(
      radiusCells({ ...base, sort: 'rate', filters: { statuses: ['posted'], origin: { ...dallas, radiusMi: 60 } } }),
    ).to.equal(undefined);
    expect(
      radiusCells({
        ...base,
        sort: 'pickup',
        filters: { statuses: ['posted', 'booked'], origin: { ...dallas, radiusMi: 60 } },
      }),
    ).to.equal(undefined);
    expect(
      radiusCells({
        ...base,
        sort: 'pickup',
        filters: { statuses: ['posted'], origin: { ...dallas, radiusMi: 2_000 } },
      }),
    ).to.equal(undefined);
  });
});
