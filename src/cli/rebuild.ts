import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { bootstrap } from '../process/runtime.js';
import { projectorsFor } from '../process/projectors.js';
import { ProjectionRunner } from '../projections/runner.js';
import { fail, startup } from './common.js';

/**
 * `npm run projections:rebuild -- [name ...]`: builds a new generation of each named projector
 * (all when none is named) beside the live one, then switches. Safe while the service runs.
 */
const { positionals } = parseArgs({ allowPositionals: true });
const { config, logger } = startup();

async function main() {
  const runtime = await bootstrap(config, logger);
  const projectors = projectorsFor(runtime);
  const names = positionals.length ? positionals : projectors.map((p) => p.name);
  const unknown = names.filter((n) => !projectors.some((p) => p.name === n));
  if (unknown.length) {
    process.stderr.write(
      `Unknown projector(s): ${unknown.join(', ')}. Known: ${projectors.map((p) => p.name).join(', ')}\n`,
    );
    await runtime.close();
    process.exit(2);
  }
  const runner = new ProjectionRunner({
    knex: runtime.knex,
    store: runtime.store,
    projectors,
    logger,
    batchSize: config.PROJECTION_BATCH_SIZE,
    ...(config.PROJECTION_POISON_POLICY ? { poisonPolicy: config.PROJECTION_POISON_POLICY } : {}),
  });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  try {
    for (const name of names) {
      const bar = new cliProgress.SingleBar(
        {
          format: `${name} |{bar}| {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted} | {phase}`,
          etaBuffer: 50,
          noTTYOutput: true,
          notTTYSchedule: 2_000,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      const started = Date.now();
      let begun = false;
      const result = await runner.rebuild(name, {
        signal: abort.signal,
        onProgress: (p) => {
          const seconds = Math.max((Date.now() - started) / 1000, 0.001);
          const payload = { phase: p.phase, rate: Math.round(p.applied / seconds).toLocaleString('en-US') };
          if (!begun) {
            bar.start(p.total, p.applied, payload);
            begun = true;
          } else {
            bar.setTotal(p.total);
            bar.update(p.applied, payload);
          }
        },
      });
      bar.stop();
      const parked = result.parked
        ? `; ${result.parked} event(s) it cannot apply are parked: see /admin/projections/${name}/parked`
        : '';
      const cleared = result.parkedCleared
        ? `; cleared ${result.parkedCleared} parked event(s) of the old generation`
        : '';
      process.stdout.write(
        `${name}: generation ${result.generation} is live (${result.applied} events applied${cleared}${parked})\n`,
      );
    }
  } finally {
    await runtime.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => fail(logger, err),
);
