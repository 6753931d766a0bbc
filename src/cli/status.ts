import { bootstrap } from '../process/runtime.js';
import { projectorsFor } from '../process/projectors.js';
import { ProjectionRunner } from '../projections/runner.js';
import { fail, startup } from './common.js';

/** `npm run projections:status`: each projector's live generation, checkpoint, head and lag. */
const { config, logger } = startup();

async function main() {
  const runtime = await bootstrap(config, logger);
  try {
    const runner = new ProjectionRunner({
      knex: runtime.knex,
      store: runtime.store,
      projectors: projectorsFor(runtime),
      logger,
      ...(config.PROJECTION_POISON_POLICY ? { poisonPolicy: config.PROJECTION_POISON_POLICY } : {}),
    });
    const rows = await runner.status();
    console.table(
      rows.map((r) => ({
        projector: r.name,
        version: r.version,
        'live gen': r.liveGeneration,
        'live version': r.liveVersion,
        checkpoint: r.checkpoint,
        head: r.head,
        'events behind': r.eventsBehind,
        parked: r.parked,
        'on poison': r.onPoison,
        error: r.lastError ?? '',
      })),
    );
  } finally {
    await runtime.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => fail(logger, err),
);
