import type { Knex } from 'knex';
import { LoadBooked, LoadCancelled, LoadExpired } from '../domain/load/events.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { boardRowsOf } from '../read-models/load-board/queries.js';
import type { BoardRow } from '../read-models/load-board/row.js';
import { toSummary } from '../read-models/load-board/summary.js';
import type { LatestLocations, TrackedLoad } from '../read-models/tracking/latest.js';
import { type Broadcaster, Throttle } from './broadcaster.js';
import { boardRoomsOf, loadRoom, orgRoom, trackingRoom } from './rooms.js';
import { LOAD_STREAM } from '../domain/load/stream.js';
import { TRACKING_STREAM } from '../domain/tracking/stream.js';

/** Events after which a load is no longer on the open board. */
const OFF_BOARD = new Set<string>([LoadBooked.type, LoadCancelled.type, LoadExpired.type]);

export const rowPosition = (r: Pick<BoardRow, 'pos_commit' | 'pos_prepare'>) => `${r.pos_commit}/${r.pos_prepare}`;

/**
 * The `load` messages of a board row: the whole load to its parties, and what the open board may
 * know. Live messages carry the correlation id of the command that caused the change (one id finds
 * a command's whole story); a resume, rebuilt from the read model, has none.
 */
export function loadMessages(
  row: BoardRow,
  now: Date,
  leftBoard: boolean,
  correlationId?: string,
): { rooms: string[]; payload: unknown }[] {
  const position = rowPosition(row);
  const parties = [
    loadRoom(row.load_id),
    orgRoom(row.shipper_org_id),
    ...(row.carrier_org_id ? [orgRoom(row.carrier_org_id)] : []),
  ];
  const full = {
    position,
    loadId: row.load_id,
    status: row.status,
    load: toSummary(row, now),
    ...(correlationId ? { correlationId } : {}),
  };
  const board = boardRoomsOf(row.origin_state, row.equipment_type);
  if (row.status === 'posted') return [{ rooms: [...parties, ...board], payload: full }];
  // Off the board: carriers browsing it learn only that it left: not its status (booked, in transit,
  // cancelled…), nor the correlation id of another organisation's command; a GET of it is a 404.
  const out: { rooms: string[]; payload: unknown }[] = [{ rooms: parties, payload: full }];
  if (leftBoard) out.push({ rooms: board, payload: { position, loadId: row.load_id, removed: true } });
  return out;
}

/**
 * Tells dashboards of load changes once the load board has committed them: the current row of each
 * load the batch touched, serialized once per message.
 */
export function boardNotifications(
  knex: Knex,
  broadcaster: Broadcaster,
): (events: readonly RecordedEvent[]) => Promise<void> {
  return async (events) => {
    const touched = new Map<string, { left: boolean; correlationId?: string }>();
    for (const e of events) {
      if (!e.streamId.startsWith(LOAD_STREAM)) continue;
      const id = e.streamId.slice(LOAD_STREAM.length);
      const correlationId = typeof e.metadata.correlationId === 'string' ? e.metadata.correlationId : undefined;
      touched.set(id, {
        left: (touched.get(id)?.left ?? false) || OFF_BOARD.has(e.type),
        ...(correlationId ? { correlationId } : {}),
      });
    }
    const ids = [...touched.keys()];
    const now = new Date();
    for await (const rows of boardRowsOf(knex, ids)) {
      for (const row of rows) {
        const t = touched.get(row.load_id)!;
        for (const m of loadMessages(row, now, t.left, t.correlationId)) broadcaster.emit(m.rooms, 'load', m.payload);
      }
    }
  };
}

/** The `location` message of a tracked load. */
export function locationMessage(t: TrackedLoad & { fix: NonNullable<TrackedLoad['fix']> }) {
  const { position, recordedAt, ...fix } = t.fix;
  return {
    position,
    loadId: t.loadId,
    status: t.status ?? null,
    truckId: t.truckId ?? null,
    active: t.active,
    fix: { ...fix, recordedAt: recordedAt.toISOString() },
  };
}

/**
 * Tells a load's tracking room where its truck is, from the latest-location read model after it was
 * written (so never a fix older than the stored one), at most once per load per interval.
 */
export function locationNotifications(locations: LatestLocations, broadcaster: Broadcaster, intervalMs: number) {
  const throttle = new Throttle<ReturnType<typeof locationMessage>>(intervalMs, (loadId, payload) =>
    broadcaster.emit([trackingRoom(loadId)], 'location', payload),
  );
  return {
    async afterCommit(events: readonly RecordedEvent[]) {
      const ids = new Set(
        events
          .filter((e) => e.streamId.startsWith(TRACKING_STREAM))
          .map((e) => e.streamId.slice(TRACKING_STREAM.length)),
      );
      const tracked = await Promise.all([...ids].map((id) => locations.get(id)));
      for (const t of tracked)
        if (t?.fix)
          throttle.push(t.loadId, locationMessage(t as TrackedLoad & { fix: NonNullable<TrackedLoad['fix']> }));
    },
    close: () => throttle.close(),
  };
}
