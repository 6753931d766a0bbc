import { createKnex } from '../../src/infra/db.js';
import { PostgresSearchIndex } from '../../src/read-models/search/postgres.js';
import { freshDatabase } from '../support/services.js';
import { searchIndexContract } from './search.contract.js';

describe('SearchIndex contract on Postgres (full-text + trigram)', () => {
  searchIndexContract(async () => {
    const knex = createKnex(await freshDatabase('search'), 4);
    return { index: new PostgresSearchIndex(knex), generation: 1, close: () => knex.destroy() };
  });
});
