import type { EventFilter, EventMetadata, Position, RecordedEvent } from '../types.js';

export interface EventRow {
  tx: string;
  seq: string;
  stream_id: string;
  revision: string;
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  created_at: Date;
}

// The text form of tx_id is named `tx`: aliased `tx_id`, it would shadow the column in ORDER BY
// and sort positions as text ("10" < "9") with a full scan.
export const eventColumns = (table = '') => {
  const t = table ? `${table}.` : '';
  return `${t}tx_id::text as tx, ${['seq', 'stream_id', 'revision', 'id', 'type', 'data', 'metadata', 'created_at'].map((c) => t + c).join(', ')}`;
};
export const EVENT_COLUMNS = eventColumns();

export function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    type: row.type,
    streamId: row.stream_id,
    revision: BigInt(row.revision),
    position: { commit: BigInt(row.tx), prepare: BigInt(row.seq) },
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

/**
 * SQL conditions for a filter, with parameters numbered from `next`. Stream prefixes become
 * LIKE patterns with the wildcards of the prefix escaped.
 */
export function filterSql(filter: EventFilter | undefined, next: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter?.streamPrefixes?.length) {
    params.push(filter.streamPrefixes.map((p) => `${p.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    parts.push(`stream_id like any($${next + params.length - 1}::text[])`);
  }
  if (filter?.eventTypes?.length) {
    params.push(filter.eventTypes);
    parts.push(`type = any($${next + params.length - 1}::text[])`);
  }
  return { sql: parts.length ? ` and ${parts.join(' and ')}` : '', params };
}

export function positionParams(p: Position): [string, string] {
  return [p.commit.toString(), p.prepare.toString()];
}

/** The shared advisory lock es_append takes before its xid (migration 007 states the same keys). */
export const ES_APPEND_LOCK = { classid: 1702063200, objid: 1 } as const;
