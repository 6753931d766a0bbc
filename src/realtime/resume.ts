import type { Knex } from 'knex';
import type { Position } from '../eventstore/types.js';
import { changedSince, type ChangeScope } from '../read-models/load-board/queries.js';
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

const positionOf = (text: string) => {
  const [c, p] = text.split('/');
  return { commit: BigInt(c!), prepare: BigInt(p!) };
};
const isAfter = (text: string, since: Position) => {
  const p = positionOf(text);
  return p.commit > since.commit || (p.commit === since.commit && p.prepare > since.prepare);
};

function scopeOf(room: RoomKind): ChangeScope {
  if (room.kind === 'loadboard') return { originStates: room.states, equipment: room.equipment };
  return room.kind === 'org' ? { orgId: room.id } : { loadId: room.id };
}

/**
 * What a dashboard missed in a room since the position it last saw, read from the read models
 * (not the log): each changed load's current state, or a tracked load's latest fix, oldest change
 * first. The same messages as live ones, so the client handles both alike.
 */
export async function missedSince(
  deps: { knex: Knex; locations: LatestLocations },
  room: RoomKind,
  since: Position,
): Promise<Missed> {
  const now = new Date();
  if (room.kind === 'tracking') {
    const t = await deps.locations.get(room.id);
    const fresh = t?.fix && isAfter(t.fix.position, since);
    return {
      messages: fresh
        ? [{ event: 'location', payload: locationMessage(t as TrackedLoad & { fix: NonNullable<TrackedLoad['fix']> }) }]
        : [],
      truncated: false,
    };
  }
  const rows = await changedSince(deps.knex, since, scopeOf(room), RESUME_LIMIT + 1);
  const messages = rows.slice(0, RESUME_LIMIT).flatMap((row) => {
    const all = loadMessages(row, now, true);
    // The board room gets the board's version of the message; the other rooms the parties' one.
    const mine = room.kind === 'loadboard' ? all[all.length - 1]! : all[0]!;
    return [{ event: 'load', payload: mine.payload }];
  });
  return { messages, truncated: rows.length > RESUME_LIMIT };
}
