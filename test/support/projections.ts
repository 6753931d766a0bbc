import type { Knex } from 'knex';
import type { RecordedEvent } from '../../src/eventstore/types.js';
import type { PostgresProjector, TableNames } from '../../src/projections/types.js';

/**
 * A projector for runner tests: one row per event (no unique key, so a duplicate shows), and it
 * can be told to throw on an event after writing the rows before it in the same batch.
 */
export function eventLogProjector(opts: {
  name?: string;
  version?: number;
  prefix: string;
  failOn?: Set<string>;
  poison?: boolean;
}): PostgresProjector & {
  failOn: Set<string>;
} {
  const failOn = opts.failOn ?? new Set<string>();
  return {
    kind: 'postgres',
    name: opts.name ?? 'event_log_test',
    version: opts.version ?? 1,
    eventTypes: 'all',
    streamPrefixes: [`${opts.prefix}-`],
    tables: [opts.name ?? 'event_log_test'],
    failOn,
    async setup(trx: Knex.Transaction, t: TableNames) {
      await trx.schema.createTable(t(opts.name ?? 'event_log_test'), (table) => {
        table.uuid('event_id').notNullable();
        table.text('stream_id').notNullable();
        table.bigInteger('revision').notNullable();
        table.integer('version').notNullable();
      });
    },
    async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames) {
      for (const e of events) {
        if (failOn.has(e.id)) {
          // A connection lost mid-batch by default (retried as such); `poison` makes it the projector's own failure.
          const err = new Error(`test projector refuses event ${e.id}`);
          if (!opts.poison) Object.assign(err, { code: '08006' });
          throw err;
        }
        await trx(t(opts.name ?? 'event_log_test')).insert({
          event_id: e.id,
          stream_id: e.streamId,
          revision: e.revision.toString(),
          version: opts.version ?? 1,
        });
      }
    },
  };
}

export async function tableExists(knex: Knex, name: string): Promise<boolean> {
  const r = await knex.raw<{ rows: { t: string | null }[] }>('select to_regclass(?) as t', [name]);
  return r.rows[0]!.t !== null;
}

/** The rows the planner believes a table holds, once an explicit ANALYZE has run on it (else 0). */
export async function analyzedRows(knex: Knex, table: string): Promise<number> {
  const { rows } = await knex.raw<{ rows: { analyzed: boolean; reltuples: number }[] }>(
    `select s.last_analyze is not null as analyzed, c.reltuples::float8 as reltuples
       from pg_class c join pg_stat_user_tables s on s.relid = c.oid where c.relname = ?`,
    [table],
  );
  return rows[0]?.analyzed ? rows[0].reltuples : 0;
}
