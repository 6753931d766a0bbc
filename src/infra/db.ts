import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { useFastTimestamps } from './timestamps.js';

export type { Knex };

/**
 * A knex pool (migrations, read models). Each session turns JIT compilation off: the planner's
 * cost of a lateral read of a few hundred grid cells passes the JIT threshold, and compiling took
 * 260 ms for a query that ran in 14 (EXPLAIN ANALYZE at 1M loads); no query here is a long
 * analytical one that JIT would pay off for. `readOnly` makes every session read-only (for the
 * query pool, which may point at a replica): a write sent to it by mistake fails here as it
 * would on a replica.
 */
export function createKnex(databaseUrl: string, poolMax = 10, opts: { readOnly?: boolean } = {}): Knex {
  useFastTimestamps();
  const setup = `SET jit = off${opts.readOnly ? '; SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY' : ''}`;
  return knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: {
      min: 0,
      max: poolMax,
      afterCreate: (conn: pg.Client, done: (err: Error | null, conn: pg.Client) => void) => {
        conn.query(setup).then(
          () => done(null, conn),
          (err: Error) => done(err, conn),
        );
      },
    },
  });
}

export function createPgPool(databaseUrl: string, max = 10): pg.Pool {
  useFastTimestamps();
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // An idle client losing its connection (server restart, pg_terminate_backend) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one: between two of its queries it has no listener of the pool's, and the
  // server's "terminating connection" arriving then is emitted as an uncaught 'error'
  // (brianc/node-postgres#2762). The next query on it fails and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Creates `name` on the server of `adminUrl` if missing; returns the URL of the new database. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replace(/"/g, '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
