import type { Knex } from 'knex';
import { DECIDE, esAppend } from './20261203_006_es_append_reused_ids.js';

/*
 * Only the event store's own writers hold the read side back (DESIGN.md).
 *
 * Readers used to deliver only below the snapshot's xmin: the oldest transaction with an xid in
 * the whole cluster, so any transaction that wrote anything anywhere (a migration, a report,
 * another application's database on the same server) held every subscriber back while it stayed
 * open. Now an append announces itself before it takes an xid: es_append takes a shared advisory
 * lock (ES_APPEND_LOCK), then its xid. es_stable_bound() is the lowest xid among transactions
 * holding that lock in this database, or the next xid when none does: below it, every append has
 * committed or aborted.
 *
 * Why it is safe: the bound is computed in one statement and the rows are read in a later one (a
 * later snapshot). An append with an xid below the bound held no lock when the bound was taken
 * (else the bound would be at most its xid), and took its xid before that moment (else its xid would
 * be at least the next xid then), so it had taken the lock before (the lock comes first) and
 * released it: it had ended, and the later read sees it committed or not at all. A transaction
 * that had written something before calling es_append would break this order; es_append refuses it.
 */
export const ES_APPEND_LOCK = { classid: 1702063200, objid: 1 } as const;

const ANNOUNCE = {
  declare: '',
  begin: `
      -- Announce the append to readers before this transaction has an xid (see es_stable_bound).
      if pg_current_xact_id_if_assigned() is not null and not exists (
           select 1 from pg_locks l where l.locktype = 'advisory' and l.pid = pg_backend_pid()
              and l.classid = ${ES_APPEND_LOCK.classid} and l.objid = ${ES_APPEND_LOCK.objid} and l.objsubid = 2) then
        raise exception 'es_append must be the first write of its transaction (readers could miss it otherwise)'
          using errcode = '55000';
      end if;
      perform pg_advisory_xact_lock_shared(${ES_APPEND_LOCK.classid}, ${ES_APPEND_LOCK.objid});
      v_tx := pg_current_xact_id();`,
};

const STABLE_BOUND = `
  create or replace function es_stable_bound() returns xid8 language sql volatile as $fn$
    with s as (select pg_current_snapshot() as snap),
    n as (select pg_snapshot_xmin(snap) as lo, pg_snapshot_xmax(snap) as nx, pg_snapshot_xmax(snap)::text::numeric as nxn from s)
    select case
      -- nothing in flight anywhere: everything below the next xid is final
      when n.lo = n.nx then n.nx
      else coalesce(least(n.nx, (
        -- appends in flight here: their 32-bit xids, widened to xid8 next to the next xid
        select min(((n.nxn + mod(t.transactionid::text::numeric - mod(n.nxn, 4294967296) + 6442450944, 4294967296) - 2147483648))::text::xid8)
          from pg_locks a
          join pg_locks t on t.virtualtransaction = a.virtualtransaction
                         and t.locktype = 'transactionid' and t.mode = 'ExclusiveLock' and t.granted
         where a.locktype = 'advisory' and a.granted
           and a.database = (select oid from pg_database where datname = current_database())
           and a.classid = ${ES_APPEND_LOCK.classid} and a.objid = ${ES_APPEND_LOCK.objid} and a.objsubid = 2)), n.nx)
    end
    from n
  $fn$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(esAppend(DECIDE.reusedIds, ANNOUNCE));
  await knex.raw(STABLE_BOUND);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists es_stable_bound()');
  await knex.raw(esAppend(DECIDE.reusedIds));
}
