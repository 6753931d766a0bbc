import type { Role } from '../process/main.js';
import { runService } from '../process/main.js';
import { fail, startup } from './common.js';

/** Starts the roles and stops them on SIGTERM or SIGINT: what every role's entry point runs. */
export function serve(roles: ReadonlySet<Role>): void {
  const { config, logger } = startup();
  // Nothing may die silently: an error that escaped every handler is logged before exiting 1.
  process.on('uncaughtException', (err) => fail(logger, err));
  process.on('unhandledRejection', (err) => fail(logger, err));
  runService(roles, config, logger)
    .then((shutdown) => {
      process.on('SIGTERM', () => shutdown.abort('SIGTERM'));
      process.on('SIGINT', () => shutdown.abort('SIGINT'));
    })
    .catch((err: unknown) => fail(logger, err));
}
