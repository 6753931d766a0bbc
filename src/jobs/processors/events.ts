import type { EventStore, RecordedEvent } from '../../eventstore/types.js';

/** The event a job was caused by, read back from its stream (jobs carry ids, not payloads). */
export async function eventAt(store: EventStore, streamId: string, revision: string): Promise<RecordedEvent> {
  const [e] = await store.readStream(streamId, { fromRevision: BigInt(revision), maxCount: 1 });
  if (!e || e.revision !== BigInt(revision)) throw new Error(`${streamId}@${revision} is not in the event store`);
  return e;
}

/** Postgres "undefined table": a read model a job reads has not been built yet (a fresh deployment). */
export const readModelMissing = (err: unknown) => (err as { code?: string }).code === '42P01';
