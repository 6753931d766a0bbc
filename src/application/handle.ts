import { uuidV5 } from '../infra/uuid5.js';
import { chainHash, HASH_FIELD, PREVIOUS_FIELD } from '../domain/payment/chain.js';
import type { EventRegistry } from '../domain/shared/event-schema.js';
import { DuplicateEventId, WrongExpectedVersion } from '../eventstore/errors.js';
import type { EventMetadata, EventStore, Position } from '../eventstore/types.js';
import { traceCarrier, withSpan } from '../infra/tracing.js';
import { foldStream, rememberAppend } from './state-cache.js';

export interface Decider<C, E, S> {
  /**
   * Who may act, decided before anything else (and before `decide`): throws the read's 404 to an
   * actor who may not see the aggregate, a 403 to one who may see it but not act. `id` is the
   * aggregate's id (the stream id after its category).
   */
  authorize?(command: C, state: S, id: string): void;
  decide(command: C, state: S): E[];
  evolve(state: S, event: E): S;
  readonly initialState: S;
}

export interface HandleOptions {
  /** The client's `If-Match`: the stream must be at this revision, and a conflict is not retried. */
  expectedRevision?: bigint;
  /** Makes event ids derive from this key, so a retried command is recognised and appends nothing. */
  idempotencyKey?: string;
  metadata?: Omit<EventMetadata, 'schemaVersion'>;
  /** Attempts when another writer got there first (re-read, decide again). */
  maxAttempts?: number;
  /** Chain each event's hash to the previous event's (tamper evidence; payment streams). */
  chained?: boolean;
}

export interface HandleResult<E> {
  streamId: string;
  /** The stream's revision after the command (-1n: it still does not exist). */
  revision: bigint;
  /** The global position of the last event appended (or found, for a replay); absent when nothing was. */
  position?: Position;
  events: E[];
  /** True when the idempotency key showed the command was already applied. */
  replayed: boolean;
}

// A fixed namespace for ids derived from idempotency keys (uuid v5).
const IDEMPOTENCY_NAMESPACE = '3d2b7c8e-5f1a-4b6d-9c0e-8a7f6e5d4c3b';

export function derivedEventId(streamId: string, idempotencyKey: string, index: number): string {
  return uuidV5(`${streamId}\n${idempotencyKey}\n${index}`, IDEMPOTENCY_NAMESPACE);
}

/**
 * Runs one command against one stream: read, fold, decide, append at the revision read. When
 * another writer appended meanwhile it reads and decides again (unless the client pinned the
 * revision with If-Match), up to `maxAttempts` times with a jittered backoff. With an
 * idempotency key the event ids are derived from it: a retry of a command already applied finds its first event in the stream and appends nothing.
 */
export async function handle<C, E extends { type: string; data: unknown }, S>(
  deps: { store: EventStore; registry: EventRegistry },
  streamId: string,
  decider: Decider<C, E, S>,
  command: C,
  options: HandleOptions = {},
): Promise<HandleResult<E>> {
  const named = (command as { type?: unknown } | null)?.type;
  const commandType = typeof named === 'string' ? named : 'command';
  // When tracing, the command is a span and its events carry its traceparent (inside the hashed
  // metadata of payment events: it is part of what happened), so projections and jobs join the trace.
  return withSpan(
    `handle ${commandType}`,
    { attributes: { 'freight.stream': streamId, 'freight.command': commandType } },
    async (span) => {
      const r = await handleOnce(deps, streamId, decider, command, options);
      span?.setAttributes({
        'freight.events': r.events.map((e) => e.type).join(','),
        'freight.revision': r.revision.toString(),
        'freight.replayed': r.replayed,
      });
      return r;
    },
  );
}

async function handleOnce<C, E extends { type: string; data: unknown }, S>(
  deps: { store: EventStore; registry: EventRegistry },
  streamId: string,
  decider: Decider<C, E, S>,
  command: C,
  options: HandleOptions,
): Promise<HandleResult<E>> {
  const { store, registry } = deps;
  const trace = traceCarrier();
  const attempts = options.expectedRevision === undefined ? (options.maxAttempts ?? 10) : 1;
  for (let attempt = 1; ; attempt++) {
    const current = await foldStream(store, registry, streamId, decider.evolve, decider.initialState);
    decider.authorize?.(command, current.state, streamId.slice(streamId.indexOf('-') + 1));
    const revision = current.revision;
    if (options.idempotencyKey && current.ids.has(derivedEventId(streamId, options.idempotencyKey, 0))) {
      // The command was applied before: answer as then, with the events it appended.
      const history = await store.readStream(streamId);
      const first = derivedEventId(streamId, options.idempotencyKey, 0);
      const at = history.findIndex((e) => e.id === first);
      let end = at;
      while (
        end + 1 < history.length &&
        history[end + 1]!.id === derivedEventId(streamId, options.idempotencyKey, end + 1 - at)
      )
        end++;
      const mine = history.slice(at, end + 1);
      return {
        streamId,
        revision: mine[mine.length - 1]!.revision,
        position: mine[mine.length - 1]!.position,
        events: mine.map((e) => ({ type: e.type, data: registry.decode(e) }) as E),
        replayed: true,
      };
    }
    if (options.expectedRevision !== undefined && options.expectedRevision !== revision) {
      throw new WrongExpectedVersion(streamId, options.expectedRevision, revision);
    }
    const events = decider.decide(command, current.state);
    if (events.length === 0) return { streamId, revision, events, replayed: false };
    let previous = options.chained ? ((current.lastMetadata?.[HASH_FIELD] as string | undefined) ?? null) : null;
    const toStore = events.map((e, i) => {
      const { data, schemaVersion } = registry.encode(e.type, e.data);
      const id = options.idempotencyKey ? derivedEventId(streamId, options.idempotencyKey, i) : crypto.randomUUID();
      const metadata: EventMetadata = { ...trace, ...options.metadata, schemaVersion };
      if (options.chained) {
        // The revision is part of what is hashed: a lost race re-reads and hashes again.
        metadata[PREVIOUS_FIELD] = previous;
        previous = chainHash(previous, {
          streamId,
          revision: revision + 1n + BigInt(i),
          id,
          type: e.type,
          data,
          metadata,
        });
        metadata[HASH_FIELD] = previous;
      }
      return { id, type: e.type, data, metadata };
    });
    try {
      const r = await store.append(streamId, toStore, { expectedRevision: revision === -1n ? 'no_stream' : revision });
      rememberAppend(store, registry, streamId, decider.evolve, current, toStore);
      return { streamId, revision: r.nextExpectedRevision, position: r.position, events, replayed: false };
    } catch (err) {
      // A reused derived id means the same command (same key) won a race with this one: reading
      // again finds its events and answers as a replay.
      const raced =
        err instanceof WrongExpectedVersion ||
        (options.idempotencyKey !== undefined && err instanceof DuplicateEventId);
      if (!raced || attempt >= attempts) throw err;
      // Many writers on one stream (users added to one organisation at once): a jittered,
      // growing pause lets them take turns instead of colliding again on the next read.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 2 ** attempt * 4)));
    }
  }
}
