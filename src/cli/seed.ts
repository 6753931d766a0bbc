import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { bootstrap } from '../process/runtime.js';
import { projectorsFor } from '../process/projectors.js';
import { ProjectionRunner } from '../projections/runner.js';
import { seed } from '../seed/seed.js';
import { fail, startup } from './common.js';

/**
 * `npm run seed -- --loads 1000000 [--shippers 200] [--seed 7] [--project]` appends a realistic
 * data set through the real write path. The service's projector builds the read models; with
 * --project this process runs the projectors itself until they have caught up.
 */
const USAGE = 'usage: npm run seed -- --loads <n> [--shippers <n>] [--seed <n>] [--concurrency <n>] [--project]';
const { values } = parseArgs({
  options: {
    loads: { type: 'string', default: '10000' },
    shippers: { type: 'string', default: '200' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '64' },
    project: { type: 'boolean', default: false },
  },
});
const int = (name: string, v: string | undefined, min: number, max: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be an integer from ${min} to ${max}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
};
const loads = int('loads', values.loads, 1, 50_000_000);
const shippers = int('shippers', values.shippers, 1, 100_000);
const concurrency = int('concurrency', values.concurrency, 1, 1_000);
// A fresh seed by default, so seeding twice adds loads instead of colliding with the first run.
const seedNumber = values.seed === undefined ? Date.now() % 2_147_483_647 : int('seed', values.seed, 0, 2_147_483_647);
const { config, logger } = startup();

const bar = (label: string) =>
  new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      etaBuffer: 200,
      noTTYOutput: true,
      notTTYSchedule: 2_000,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );

async function main() {
  const runtime = await bootstrap(config, logger);
  try {
    const b = bar('loads');
    const started = Date.now();
    b.start(loads, 0, { rate: 0 });
    const result = await seed({
      store: runtime.store,
      loads,
      shippers,
      concurrency,
      seed: seedNumber,
      onProgress: (done) => {
        if (done % 500 === 0 || done === loads)
          b.update(done, {
            rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)).toLocaleString('en-US'),
          });
      },
    });
    b.stop();
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `seeded ${result.loads.toLocaleString('en-US')} loads (${result.events.toLocaleString('en-US')} events) in ${seconds.toFixed(1)} s, seed ${seedNumber}\n`,
    );
    if (values.project) {
      const runner = new ProjectionRunner({
        knex: runtime.knex,
        store: runtime.store,
        projectors: projectorsFor(runtime),
        logger,
        batchSize: Math.max(config.PROJECTION_BATCH_SIZE, 2_000),
      });
      const p = bar('projections (events behind)');
      const t0 = Date.now();
      runner.start();
      let first: number | undefined;
      for (;;) {
        const status = await runner.status();
        const behind = status.reduce((s, x) => s + x.eventsBehind, 0);
        if (first === undefined) {
          first = Math.max(behind, 1);
          p.start(first, 0, { rate: 0 });
        }
        p.update(Math.max(0, first - behind), {
          rate: Math.round((first - behind) / Math.max(0.001, (Date.now() - t0) / 1000)).toLocaleString('en-US'),
        });
        if (status.every((x) => x.eventsBehind === 0)) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      p.stop();
      await runner.stop();
      process.stdout.write(`read models caught up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await runtime.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => fail(logger, err),
);
