import type { Knex } from 'knex';
import type { Position } from '../eventstore/types.js';
import type { BoardRow } from '../read-models/load-board/row.js';
import type { LatestLocations, TrackedLoad } from '../read-models/tracking/latest.js';
import { loadMessages, locationMessage } from './notifications.js';
import type { RoomKind } from './rooms.js';

/** Messages missed at most; past that a dashboard is told to reload from the HTTP queries. */
export const RESUME_LIMIT = 500;

export interface Missed {
  messages: { event: string; payload: unknown }[];
  /** More changed than RESUME_LIMIT: reload instead. */
  truncated: boolean;
}

const after = (p: Position) => ['(pos_commit, pos_prepare) > (?::numeric, ?::numeric)', [p.commit.toString(), p.prepare.toString()]] as const;
const positionOf = (text: string) => {
  const [c, p] = text.split('/');
  return { commit: BigInt(c!), prepare: BigInt(p!) };
};
const isAfter = (text: string, since: Position) => {
  const p = positionOf(text);
  return p.commit > since.commit || (p.commit === since.commit && p.prepare > since.prepare);
};

/**
 * What a dashboard missed in a room since the position it last saw, read from the read models
 * (not the log): each changed load's current state, or a tracked load's latest fix, oldest change
 * first. The same messages as live ones, so the client handles both alike.
 */
export async function missedSince(deps: { knex: Knex; locations: LatestLocations }, room: RoomKind, since: Position): Promise<Missed> {
  const now = new Date();
  if (room.kind === 'tracking') {
    const t = await deps.locations.get(room.id);
    const fresh = t?.fix && isAfter(t.fix.position, since);
    return { messages: fresh ? [{ event: 'location', payload: locationMessage(t as TrackedLoad & { fix: NonNullable<TrackedLoad['fix']> }) }] : [], truncated: false };
  }
  const [sql, args] = after(since);
  const q = deps.knex('load_board').whereRaw(sql, [...args]).orderBy([{ column: 'pos_commit' }, { column: 'pos_prepare' }]).limit(RESUME_LIMIT + 1);
  if (room.kind === 'load') q.where('load_id', room.id);
  if (room.kind === 'org') q.where((w) => w.where('shipper_org_id', room.id).orWhere('carrier_org_id', room.id));
  if (room.kind === 'loadboard') {
    if (room.states) q.whereIn('origin_state', room.states as string[]);
    if (room.equipment) q.whereIn('equipment_type', room.equipment as string[]);
  }
  const rows = (await q.select('*')) as BoardRow[];
  const messages = rows.slice(0, RESUME_LIMIT).flatMap((row) => {
    const all = loadMessages(row, now, true);
    // The board room gets the board's version of the message; the other rooms the parties' one.
    const mine = room.kind === 'loadboard' ? all[all.length - 1]! : all[0]!;
    return [{ event: 'load', payload: mine.payload }];
  });
  return { messages, truncated: rows.length > RESUME_LIMIT };
}
