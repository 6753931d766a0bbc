/**
 * `npm run bench [-- --quick] [--only eventstore,loadboard,commands,gps,rebuild,fanout,versus] [--runs N]`: every benchmark scenario on
 * the local Postgres and Redis, each case measured several times beside its ceiling (and a peer,
 * where there is one) in the same run. Prints the table and writes bench/results/latest.json and
 * latest.md. A benchmark, not a test: it asserts nothing about the figures; `--quick` (CI) only
 * shows that every scenario still runs.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/infra/config.js';
import { createLogger } from '../src/infra/logger.js';
import { startServices } from '../src/infra/services.js';
import { readFile } from 'node:fs/promises';
import { type Aim, aimFromText, machine, markdown, type Meta, type Row, writeResults } from './lib/report.js';
import type { ScenarioContext } from './scenarios/context.js';
import { loadBoardScenario, rebuildScenario } from './scenarios/board.js';
import { commandsScenario } from './scenarios/commands.js';
import { emmettVersion, eventStoreScenario } from './scenarios/eventstore.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { gpsScenario } from './scenarios/gps.js';
import { versusScenario } from './scenarios/versus.js';

/** In the order: 1 event store, 2 load board, 3 commands, 4 GPS, 5 rebuild, 6 fan-out, 7 versus a conventional stack. */
const SCENARIOS: Record<string, (ctx: ScenarioContext) => Promise<Row[]>> = {
  eventstore: eventStoreScenario,
  loadboard: loadBoardScenario,
  commands: commandsScenario,
  gps: gpsScenario,
  rebuild: rebuildScenario,
  fanout: fanoutScenario,
  versus: versusScenario,
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    /** Keep the other scenarios' rows of the last results file (re-running one scenario). */
    merge: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
  },
});
const chosen = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
for (const name of chosen) {
  if (!SCENARIOS[name]) {
    process.stderr.write(`Unknown scenario "${name}": choose from ${Object.keys(SCENARIOS).join(', ')}\n`);
    process.exit(2);
  }
}
const runs = values.runs ? Number(values.runs) : values.quick ? 1 : 3;
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('--runs must be a whole number ≥ 1\n');
  process.exit(2);
}

async function main() {
  const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty', NODE_ENV: 'development' });
  const config = loadConfig({ ...process.env, NODE_ENV: 'development' });
  const services = await startServices(config, logger, { ephemeral: true });
  const rows: Row[] = [];
  const started = Date.now();
  try {
    const ctx: ScenarioContext = {
      adminUrl: services.databaseUrl,
      redisUrl: services.redisUrl,
      quick: values.quick,
      runs,
      log: (m) => process.stderr.write(`  ${m}\n`),
    };
    for (const name of chosen) {
      const t = Date.now();
      process.stderr.write(`${name}…\n`);
      const got = await SCENARIOS[name]!(ctx);
      rows.push(...got);
      process.stderr.write(`${name}: ${got.length} rows in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await services.stop();
  }
  const meta: Meta = {
    at: new Date().toISOString(),
    machine: machine(services.databaseUrl),
    quick: values.quick,
    runs,
    versions: chosen.includes('eventstore') ? [`@event-driven-io/emmett-postgresql ${emmettVersion}`] : [],
    scenarios: chosen,
  };
  // A quick run must not overwrite the figures of a full one.
  const dir = new URL(values.quick ? './results/quick/' : './results/', import.meta.url);
  if (values.merge) {
    const kept = await keptRows(dir, rows);
    rows.unshift(...kept.rows);
    meta.scenarios = [...kept.scenarios, ...meta.scenarios];
    meta.versions = [...new Set([...kept.versions, ...meta.versions])];
    if (kept.rows.length) meta.merged = `rows of ${kept.scenarios.join(', ')} from the run of ${kept.at}`;
  }
  const { json } = await writeResults(dir, rows, meta);
  console.log(markdown(rows, meta));
  process.stderr.write(`wrote ${json.pathname} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}

/** The last results' rows of the scenarios this run did not measure, in the scenarios' order. */
async function keptRows(
  dir: URL,
  fresh: Row[],
): Promise<{ rows: Row[]; scenarios: string[]; versions: string[]; at: string }> {
  type Stored = Omit<Row, 'ours' | 'ceiling' | 'peer' | 'aims'> & {
    ours: { values: number[] };
    ceiling?: { name: string; values: number[] };
    peer?: { name: string; values: number[] };
    aims: { text: string }[];
    aimSpecs?: Aim[];
  };
  let last: { meta: Meta; rows: Stored[] };
  try {
    last = JSON.parse(await readFile(new URL('latest.json', dir), 'utf8'));
  } catch {
    return { rows: [], scenarios: [], versions: [], at: '' };
  }
  const measured = new Set(fresh.map((r) => r.scenario));
  const rows = last.rows
    .filter((r) => !measured.has(r.scenario))
    .map((r) => ({
      scenario: r.scenario,
      case: r.case,
      unit: r.unit,
      better: r.better,
      ours: r.ours.values,
      ...(r.ceiling ? { ceiling: { name: r.ceiling.name, values: r.ceiling.values } } : {}),
      ...(r.peer ? { peer: { name: r.peer.name, values: r.peer.values } } : {}),
      aims: r.aimSpecs ?? r.aims.map((a) => aimFromText(a.text)).filter((a): a is Aim => !!a),
      ...(r.note ? { note: r.note } : {}),
    }));
  const scenarios = last.meta.scenarios.filter((s) => !chosen.includes(s));
  return { rows, scenarios, versions: last.meta.versions, at: last.meta.at };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
