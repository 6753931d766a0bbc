import { stateCacheChecks } from '../src/application/state-cache.js';
import { EventRegistry } from '../src/domain/shared/event-schema.js';
import { stopTestServices } from './support/services.js';

// Every event the suite reads is decoded both ways, and a difference fails the test that read it.
EventRegistry.verifyFastDecode = true;
// Folded states kept between commands are frozen: a decider that changed one it was given throws.
stateCacheChecks.freeze = true;

/** Mocha root hooks: stop the servers this run started, and drop its databases. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestServices();
  },
};
