import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/infra/config.js';
import { createKnex, dropDatabase, ensureDatabase } from '../../src/infra/db.js';
import { createLogger } from '../../src/infra/logger.js';
import { migrateLatest } from '../../src/infra/migrate.js';
import { type ServiceEndpoints, startServices } from '../../src/infra/services.js';

/**
 * Real Postgres and Redis for tests: DATABASE_URL / REDIS_URL when set, else an embedded Postgres
 * and a spawned redis-server of this run's own. Every suite gets its own database and key prefix,
 * so runs never see each other's data.
 */
// Silent unless TEST_LOG_LEVEL is set: tests provoke failures on purpose, and their expected
// warnings would read like trouble in the output.
export const testLogger = createLogger({
  LOG_LEVEL: (process.env.TEST_LOG_LEVEL as 'warn' | undefined) ?? 'error',
  LOG_FORMAT: 'pretty',
  NODE_ENV: 'test',
});
testLogger.silent = !process.env.TEST_LOG_LEVEL;

let started: Promise<ServiceEndpoints> | undefined;
const dropOnExit: string[] = [];

export function testServices(): Promise<ServiceEndpoints> {
  started ??= startServices(loadConfig({ ...process.env, NODE_ENV: 'test' }), testLogger, { ephemeral: true });
  return started;
}

export const runId = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;

/** A new, migrated database of its own; dropped when the run ends. */
export async function freshDatabase(label: string): Promise<string> {
  const { databaseUrl } = await testServices();
  const name = `t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${runId}_${randomBytes(2).toString('hex')}`;
  const url = await ensureDatabase(databaseUrl, name);
  dropOnExit.push(name);
  const knex = createKnex(url, 2);
  try {
    await migrateLatest(knex);
  } finally {
    await knex.destroy();
  }
  return url;
}

export function uniquePrefix(label = 'k'): string {
  return `${label}${randomBytes(4).toString('hex')}`;
}

export async function stopTestServices(): Promise<void> {
  if (!started) return;
  const endpoints = await started;
  for (const name of dropOnExit.splice(0)) {
    await dropDatabase(endpoints.databaseUrl, name).catch(() => {});
  }
  await endpoints.stop();
  started = undefined;
}
