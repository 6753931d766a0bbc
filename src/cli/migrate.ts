import { bootstrap } from '../process/runtime.js';
import { fail, startup } from './common.js';

/** `npm run migrate`: applies pending migrations (the service also does so when it starts). */
const { config, logger } = startup();

bootstrap(config, logger)
  .then((runtime) => runtime.close())
  .then(
    () => process.exit(0),
    (err: unknown) => fail(logger, err),
  );
