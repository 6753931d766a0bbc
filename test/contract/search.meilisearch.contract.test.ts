import { randomBytes } from 'node:crypto';
import { MeiliSearchIndex } from '../../src/read-models/search/meilisearch.js';
import { searchIndexContract } from './search.contract.js';

const url = process.env.MEILI_URL;

// Meilisearch cannot be installed on every machine: the suite runs when MEILI_URL points at a
// server (the GitHub workflow starts one) and says plainly when it did not run.
describe(`SearchIndex contract on Meilisearch${url ? '' : ' — SKIPPED: MEILI_URL is not set, no Meilisearch server to test against'}`, function () {
  before(function () {
    if (!url) {
      console.log(
        '    ⚠ Meilisearch contract suite SKIPPED: set MEILI_URL (e.g. http://localhost:7700) and MEILI_API_KEY to run it.',
      );
      this.skip();
    }
  });
  if (!url) {
    it('runs the shared search-index contract against a real Meilisearch server');
    return;
  }
  searchIndexContract(async () => ({
    index: new MeiliSearchIndex(url, process.env.MEILI_API_KEY, `test_${randomBytes(4).toString('hex')}`),
    generation: 1,
    close: async () => {},
  }));
});
