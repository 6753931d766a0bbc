import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { loadEvents } from '../../src/domain/load/events.js';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { loadBoardProjector } from '../../src/read-models/load-board/projector.js';
import { boardQuery, type BoardQueryOptions, type Keyset, queryBoard } from '../../src/read-models/load-board/query.js';
import { tableNames } from '../../src/projections/types.js';
import { freshDatabase } from '../support/services.js';
import { admin, details, hours } from '../unit/domain/load-fixtures.js';

describe('Nearest-first pages of the board', () => {
  let knex: Knex;
  const t = tableNames(1);
  const here = { lat: 29.76, lng: -95.37 };
  // Loads piled up at the same yards: more at one spot than a page and its read-ahead hold.
  const spots = [
    { lat: 29.8, lng: -95.4, n: 70 },
    { lat: 30.27, lng: -97.74, n: 45 },
    ...Array.from({ length: 15 }, (_, i) => ({ lat: 29 + i * 0.1, lng: -95 - i * 0.05, n: 1 })),
  ];

  before(async () => {
    knex = createKnex(await freshDatabase('deadhead'), 2);
    await knex.transaction(async (trx) => {
      await loadBoardProjector.setup(trx, t);
      for (const sql of loadBoardProjector.indexes!(t)) await trx.raw(sql);
      for (const table of loadBoardProjector.tables)
        await trx.raw('create view ?? as select * from ??', [table, t(table)]);
    });
    let seq = 0n;
    const events: RecordedEvent[] = spots.flatMap((s) =>
      Array.from({ length: s.n }, () => {
        const loadId = randomUUID();
        const origin = { ...details.origin, lat: s.lat, lng: s.lng };
        const { data, schemaVersion } = loadEvents.encode('LoadPosted', {
          ...details,
          origin,
          loadId,
          tripMiles: 300,
          tripMilesEstimated: true,
          postedAt: hours(0),
          expiresAt: hours(30),
        });
        return {
          id: randomUUID(),
          type: 'LoadPosted',
          streamId: `load-${loadId}`,
          revision: 0n,
          position: { commit: 9n, prepare: ++seq },
          data,
          metadata: { schemaVersion },
          createdAt: hours(0),
        };
      }),
    );
    await knex.transaction((trx) => loadBoardProjector.apply(trx, events, t));
  });
  after(() => knex.destroy());

  const pageThrough = async (limit: number, order?: 'asc' | 'desc') => {
    const seen: { id: string; mi: number }[] = [];
    let after: Keyset | undefined;
    for (let i = 0; i < 500; i++) {
      const opts: BoardQueryOptions = {
        filters: { statuses: ['posted'], origin: { ...here, radiusMi: 500 } },
        actor: admin,
        sort: 'deadhead',
        ...(order ? { order } : {}),
        limit,
        now: hours(0),
        ...(after ? { after } : {}),
      };
      const page = await queryBoard(knex, opts);
      expect(page.rows.length).to.be.at.most(limit);
      seen.push(...page.rows.map((r) => ({ id: r.load_id, mi: r.deadhead_mi! })));
      if (!page.next) break;
      after = page.next;
    }
    return seen;
  };
  const expected = async (dir: 'asc' | 'desc') =>
    (
      await knex(t('load_board'))
        .select('load_id')
        .orderByRaw(`ll_to_earth(origin_lat, origin_lng) <-> ll_to_earth(?, ?) ${dir}, load_id ${dir}`, [
          here.lat,
          here.lng,
        ])
    ).map((r: { load_id: string }) => r.load_id);

  for (const limit of [5, 25, 69, 200]) {
    it(`pages nearest first ${limit} at a time, ties by load id, none skipped or repeated`, async () => {
      const seen = await pageThrough(limit);
      expect(seen.map((s) => s.id)).to.deep.equal(await expected('asc'));
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.mi).to.be.at.least(seen[i - 1]!.mi);
    });
  }

  it('pages farthest first too', async () => {
    expect((await pageThrough(7, 'desc')).map((s) => s.id)).to.deep.equal(await expected('desc'));
  });

  it('asks the GiST index for the nearest loads instead of sorting every load in the radius', async () => {
    const q = boardQuery(knex, {
      filters: { statuses: ['posted'], origin: { ...here, radiusMi: 500 } },
      actor: admin,
      sort: 'deadhead',
      limit: 25,
      now: hours(0),
    });
    const plan = (await knex.raw(`explain ${q.toString()}`)).rows
      .map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).to.match(/Index Scan using load_board__g1_origin_geo_posted on load_board__g1[\s\S]*Order By: /);
    expect(plan).to.not.match(/Sort Key/);
  });
});
