import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { loadBoardProjector } from '../../src/read-models/load-board/projector.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { seed } from '../../src/seed/seed.js';
import { analyzedRows } from '../support/projections.js';
import { freshDatabase, testLogger } from '../support/services.js';

/** The secondary indexes of one physical table, by name. */
async function indexesOf(knex: Knex, table: string): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: { indexname: string }[] }>(
    `select indexname from pg_indexes where tablename = ? and indexname not like '%_pkey' order by 1`,
    [table],
  );
  return rows.map((r) => r.indexname);
}

describe('A rebuild fills the new generation first, then indexes and analyzes it once, before the switch', () => {
  let knex: Knex;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;

  before(async () => {
    const url = await freshDatabase('rebuild_indexes');
    knex = createKnex(url, 6);
    store = new PostgresEventStore({ databaseUrl: url, pollMs: 200 });
    await seed({ store, loads: 300, shippers: 5, seed: 7 });
    runner = new ProjectionRunner({ knex, store, projectors: [loadBoardProjector], logger: testLogger, batchSize: 50 });
    runner.start();
    await runner.idle(30_000);
  });
  after(async () => {
    await runner.stop();
    await store.close();
    await knex.destroy();
  });

  it('gives the rebuilt generation every index of a fresh one, answering the board as before', async () => {
    const live = await indexesOf(knex, 'load_board__g1');
    expect(live).to.have.length(15);
    const before = await knex('load_board')
      .where('status', 'posted')
      .orderBy(['pickup_from', 'load_id'])
      .limit(25)
      .select('load_id', 'revision');
    // Indexes are built after the last page is applied: watch the new table while it fills.
    let seenWhileBuilding: string[] | undefined;
    const result = await runner.rebuild('load_board', {
      onProgress: (p) => {
        if (p.phase === 'building' && p.applied > 0 && !seenWhileBuilding)
          void indexesOf(knex, `load_board__g${p.generation}`).then((x) => (seenWhileBuilding ??= x));
      },
    });
    expect(result.generation).to.equal(2);
    expect(seenWhileBuilding).to.deep.equal([]);
    const rebuilt = await indexesOf(knex, 'load_board__g2');
    // Analyzed by the rebuild itself (autovacuum would set last_autoanalyze, not last_analyze), so
    // the planner knows the rows before the first query: the board's own plan depends on them.
    for (const table of ['load_board__g2', 'load_status_history__g2']) {
      expect(await analyzedRows(knex, table), table).to.be.greaterThan(0);
    }
    expect(rebuilt).to.deep.equal(live.map((n) => n.replace('__g1_', '__g2_')));
    expect(
      await knex('load_board')
        .where('status', 'posted')
        .orderBy(['pickup_from', 'load_id'])
        .limit(25)
        .select('load_id', 'revision'),
    ).to.deep.equal(before);
  });
});
