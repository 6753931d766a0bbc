import { expect } from 'chai';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { createKnex, type Knex } from '../../src/infra/db.js';
import { ProjectionRunner } from '../../src/projections/runner.js';
import { loadBoardProjector } from '../../src/read-models/load-board/projector.js';
import { seed } from '../../src/seed/seed.js';
import { analyzedRows } from '../support/projections.js';
import { freshDatabase, testLogger } from '../support/services.js';

describe('A live read model filled from empty is analyzed as it grows, whatever autovacuum does', () => {
  let knex: Knex;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;

  before(async () => {
    const url = await freshDatabase('read_model_statistics');
    knex = createKnex(url, 6);
    store = new PostgresEventStore({ databaseUrl: url, pollMs: 200 });
  });
  after(async () => {
    await runner?.stop();
    await store.close();
    await knex.destroy();
  });

  it('analyzes the board once it holds more than the floor plus a share of what it held', async () => {
    await seed({ store, loads: 600, shippers: 5, seed: 11 });
    runner = new ProjectionRunner({
      knex,
      store,
      projectors: [loadBoardProjector],
      logger: testLogger,
      batchSize: 100,
      statistics: { checkEvery: 200, minRows: 100, share: 0.1 },
    });
    runner.start();
    // Postgres counts changes a little after they commit: more loads keep the checks coming until one sees them.
    let round = 0;
    while ((await analyzedRows(knex, 'load_board__g1')) === 0) {
      expect(round, 'the board was never analyzed').to.be.lessThan(20);
      expect(await runner.idle(30_000)).to.equal(true);
      if ((await analyzedRows(knex, 'load_board__g1')) > 0) break;
      await seed({ store, loads: 100, shippers: 2, seed: 100 + round++ });
    }
    expect(await analyzedRows(knex, 'load_board__g1')).to.be.greaterThan(100);
  });
});
