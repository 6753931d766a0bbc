import { createHash } from 'node:crypto';

/**
 * Tamper evidence for payment streams: each event's metadata carries `hash`, the SHA-256 of the
 * previous event's hash and this event's stream, revision, id, type, data and metadata (all but
 * the hash itself), in a canonical JSON form (keys sorted: Postgres jsonb and other stores do not
 * keep key order). Changing, removing or reordering a stored event breaks every hash after it.
 */
export interface ChainedEvent {
  readonly streamId: string;
  readonly revision: bigint;
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
}

export const HASH_FIELD = 'hash';
export const PREVIOUS_FIELD = 'previousHash';

/** JSON with object keys sorted at every level; the one form hashes are computed over. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function chainHash(previous: string | null, e: ChainedEvent): string {
  const { [HASH_FIELD]: _hash, ...metadata } = e.metadata;
  const body = canonicalJson({
    previous,
    streamId: e.streamId,
    revision: e.revision.toString(),
    id: e.id,
    type: e.type,
    data: e.data,
    metadata,
  });
  return createHash('sha256').update(body).digest('hex');
}

export type ChainCheck =
  { ok: true; head: string | null } | { ok: false; revision: bigint; eventId: string; reason: string };

/** Walks a stream's events in order and recomputes the chain; names the first event that breaks it. */
export function verifyChain(events: readonly ChainedEvent[]): ChainCheck {
  let previous: string | null = null;
  let expected = 0n;
  for (const e of events) {
    if (e.revision !== expected)
      return {
        ok: false,
        revision: e.revision,
        eventId: e.id,
        reason: `revision ${e.revision} follows ${expected - 1n}: an event is missing`,
      };
    const stored = e.metadata[HASH_FIELD];
    if (typeof stored !== 'string')
      return { ok: false, revision: e.revision, eventId: e.id, reason: 'the event carries no hash' };
    if ((e.metadata[PREVIOUS_FIELD] ?? null) !== previous)
      return {
        ok: false,
        revision: e.revision,
        eventId: e.id,
        reason: 'its previous hash is not the hash of the event before it',
      };
    const actual = chainHash(previous, e);
    if (actual !== stored)
      return {
        ok: false,
        revision: e.revision,
        eventId: e.id,
        reason: 'its content does not match its hash (altered after it was written)',
      };
    previous = stored;
    expected++;
  }
  return { ok: true, head: previous };
}
