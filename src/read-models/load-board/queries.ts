import type { Knex } from 'knex';
import type { Actor } from '../../domain/shared/actor.js';
import type { Position } from '../../eventstore/types.js';
import { visibleTo } from './query.js';
import type { BoardRow, BoardStatus, HistoryRow } from './row.js';

/*
 * The board's lookups other than its pages (query.ts). Only `loadWithHistory` filters by who asks;
 * the others answer facts their callers check themselves (a driver's own assignment, `maySee` on
 * a load's parties, a room already authorized), so they take no actor.
 */

export interface LoadWithHistory {
  row: BoardRow;
  /** Its status changes, oldest first (`at` as Postgres writes a timestamptz in JSON). */
  history: (Omit<HistoryRow, 'at'> & { at: string })[];
}

/** One load as `actor` may see it, with its status history; undefined when there is none it may see. */
export async function loadWithHistory(knex: Knex, loadId: string, actor: Actor): Promise<LoadWithHistory | undefined> {
  // One round trip: the row, and its history gathered beside it (as JSON: `at` comes back as text).
  const q = knex('load_board as b')
    .where('b.load_id', loadId)
    .select(
      'b.*',
      knex.raw(`coalesce((
        select json_agg(json_build_object('load_id', h.load_id, 'revision', h.revision::text, 'event_type', h.event_type,
                                          'status', h.status, 'at', h.at, 'actor', h.actor) order by h.revision)
          from load_status_history h where h.load_id = b.load_id), '[]'::json) as history`),
    );
  const found = (await visibleTo(q, actor).first()) as (BoardRow & Pick<LoadWithHistory, 'history'>) | undefined;
  if (!found) return undefined;
  const { history, ...row } = found;
  return { row, history };
}

/** The loads `driverId` is assigned to in one of `statuses`, the most recently changed first. */
export async function loadsOfDriver(
  knex: Knex,
  driverId: string,
  statuses: readonly BoardStatus[],
  limit: number,
): Promise<string[]> {
  const rows = (await knex('load_board')
    .where('driver_id', driverId)
    .whereIn('status', statuses as BoardStatus[])
    .orderBy('updated_at', 'desc')
    .limit(limit)
    .select('load_id')) as { load_id: string }[];
  return rows.map((r) => r.load_id);
}

/** Who a load belongs to, for deciding who may follow it; no carrier until it is booked. */
export interface LoadParties {
  shipperOrgId: string;
  carrierOrgId: string | undefined;
}

export async function loadParties(knex: Knex, loadId: string): Promise<LoadParties | undefined> {
  const row = (await knex('load_board').where('load_id', loadId).first('shipper_org_id', 'carrier_org_id')) as
    { shipper_org_id: string; carrier_org_id: string | null } | undefined;
  return row && { shipperOrgId: row.shipper_org_id, carrierOrgId: row.carrier_org_id ?? undefined };
}

/** Bind parameters per statement stay far below Postgres's 65,535. */
const CHUNK = 1_000;

/** The current rows of the loads named, a chunk at a time (loads not on the board are left out). */
export async function* boardRowsOf(knex: Knex, loadIds: readonly string[]): AsyncGenerator<BoardRow[]> {
  for (let i = 0; i < loadIds.length; i += CHUNK) {
    yield (await knex('load_board')
      .whereIn('load_id', loadIds.slice(i, i + CHUNK))
      .select('*')) as BoardRow[];
  }
}

/** Which loads a dashboard follows: one load, an organisation's (as shipper or carrier), or board cells. */
export interface ChangeScope {
  loadId?: string;
  orgId?: string;
  originStates?: readonly string[];
  equipment?: readonly string[];
}

/**
 * The loads in `scope` whose row changed after `since`, oldest change first, at most `limit`. The
 * row's position is that of the last event applied to it, so a load changed twice shows once.
 */
export async function changedSince(
  knex: Knex,
  since: Position,
  scope: ChangeScope,
  limit: number,
): Promise<BoardRow[]> {
  const q = knex('load_board')
    .whereRaw('(pos_commit, pos_prepare) > (?::numeric, ?::numeric)', [
      since.commit.toString(),
      since.prepare.toString(),
    ])
    .orderBy([{ column: 'pos_commit' }, { column: 'pos_prepare' }])
    .limit(limit);
  if (scope.loadId) q.where('load_id', scope.loadId);
  if (scope.orgId) q.where((w) => w.where('shipper_org_id', scope.orgId!).orWhere('carrier_org_id', scope.orgId!));
  if (scope.originStates) q.whereIn('origin_state', scope.originStates as string[]);
  if (scope.equipment) q.whereIn('equipment_type', scope.equipment as string[]);
  return (await q.select('*')) as BoardRow[];
}

/** A posting whose time is up, with the end the board knows for it. */
export interface DuePosting {
  loadId: string;
  expiresAt: Date;
}

/** Up to `limit` posted loads whose end is at or before `now`, the longest overdue first. */
export async function postingsDue(knex: Knex, now: Date, limit: number): Promise<DuePosting[]> {
  const rows = await knex('load_board')
    .where({ status: 'posted' })
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .select<{ load_id: string; expires_at: Date }[]>('load_id', 'expires_at');
  return rows.map((r) => ({ loadId: r.load_id, expiresAt: r.expires_at }));
}
