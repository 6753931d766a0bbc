import type { ResolvedEvent } from '@eventstore/db-client';
import type { EventFilter, EventMetadata, RecordedEvent } from '../types.js';

// EventStoreDB's events as the port's: read by the store and by its subscriptions alike.

export type EsdbRecorded = NonNullable<ResolvedEvent['event']>;

/** EventStoreDB's own events and streams start with `$`; they never reach our readers. */
function isSystem(e: { streamId: string; type: string }): boolean {
  return e.streamId.startsWith('$') || e.type.startsWith('$');
}

export function matches(e: { streamId: string; type: string }, filter?: EventFilter): boolean {
  if (isSystem(e)) return false;
  if (filter?.streamPrefixes?.length && !filter.streamPrefixes.some((p) => e.streamId.startsWith(p))) return false;
  if (filter?.eventTypes?.length && !filter.eventTypes.includes(e.type)) return false;
  return true;
}

export function toRecorded(e: EsdbRecorded): RecordedEvent {
  if (!e.position) throw new Error(`EventStoreDB returned event ${e.id} without a position`);
  const data = e.isJson ? e.data : JSON.parse(Buffer.from(e.data as Uint8Array).toString('utf8'));
  const metadata =
    e.metadata instanceof Uint8Array
      ? (JSON.parse(Buffer.from(e.metadata).toString('utf8') || '{}') as EventMetadata)
      : ((e.metadata ?? {}) as EventMetadata);
  return {
    id: e.id,
    type: e.type,
    streamId: e.streamId,
    revision: e.revision,
    position: { commit: e.position.commit, prepare: e.position.prepare },
    data,
    metadata,
    createdAt: e.created,
  };
}
