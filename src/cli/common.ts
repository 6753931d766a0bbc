import { type Config, ConfigError, loadConfig } from '../infra/config.js';
import { createLogger, type Logger } from '../infra/logger.js';
import { ServiceStartError } from '../infra/startup-error.js';

/** Loads the configuration, or stops the process with a message naming the bad variable. */
export function startup(): { config: Config; logger: Logger } {
  try {
    const config = loadConfig();
    return { config, logger: createLogger(config) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Prints a one-line reason for the failures a user can fix, a stack for the rest; exits 1. */
export function fail(logger: Logger, err: unknown): never {
  if (err instanceof ServiceStartError) process.stderr.write(`${err.message}\n`);
  else logger.error('failed', { err });
  process.exit(1);
}
