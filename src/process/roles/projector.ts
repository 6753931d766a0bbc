import { ProjectorLeases } from '../../projections/lease.js';
import { ProjectionRunner } from '../../projections/runner.js';
import type { Projector } from '../../projections/types.js';
import type { Runtime } from '../runtime.js';

export interface ProjectorRole {
  runner: ProjectionRunner;
  stop(): Promise<void>;
}

/** The projector role: follows the log into the read models and runs the reactors. */
export function startProjectorRole(runtime: Runtime, projectors: Projector[]): ProjectorRole {
  const { config, logger } = runtime;
  // One process runs each projector; the others stand by (leases), and take over when it dies.
  const leases = config.PROJECTOR_LEASES ? new ProjectorLeases(runtime.databaseUrl, logger) : undefined;
  const runner = new ProjectionRunner({
    knex: runtime.knex,
    store: runtime.store,
    projectors,
    logger,
    databaseUrl: runtime.databaseUrl,
    batchSize: config.PROJECTION_BATCH_SIZE,
    ...(config.PROJECTION_POISON_POLICY ? { poisonPolicy: config.PROJECTION_POISON_POLICY } : {}),
    ...(leases ? { leases, leaseRetryMs: config.PROJECTOR_LEASE_RETRY_MS } : {}),
  });
  leases?.whenLost((names) => runner.leasesLost(names));
  runner.start();
  return {
    runner,
    async stop() {
      await runner.stop();
      await leases?.close();
    },
  };
}
