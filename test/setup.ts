import { stopTestServices } from './support/services.js';

/** Mocha root hooks: stop the servers this run started, and drop its databases. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestServices();
  },
};
