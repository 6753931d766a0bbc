import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  eventTypeFilter,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  START as ESDB_START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type Filter,
  type JSONType,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { InvalidEvent, WrongExpectedVersion } from '../errors.js';
import { comparePositions } from '../position.js';
import type {
  AppendResult,
  EventData,
  EventFilter,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../types.js';
import { validateAppend } from '../validate.js';
import { EsdbSubscription } from './subscription.js';

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

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The server-side filter of a subscription: EventStoreDB takes one; the rest is checked here. */
function serverFilter(filter?: EventFilter): Filter {
  if (filter?.streamPrefixes?.length) return streamNameFilter({ prefixes: [...filter.streamPrefixes] });
  if (filter?.eventTypes?.length) return eventTypeFilter({ regex: `^(${filter.eventTypes.map(escapeRegex).join('|')})$` });
  return excludeSystemEvents();
}

/**
 * The EventStoreDB (KurrentDB) adapter. Revisions and {commit, prepare} positions map to the
 * port as bigints without loss; `WrongExpectedVersionError` becomes the port's error; system
 * events are filtered out; subscriptions restart after a drop from the last delivered position.
 */
export class EsdbEventStore implements EventStore {
  readonly name = 'esdb' as const;
  readonly client: EventStoreDBClient;
  private readonly live = new Set<AllStreamSubscription>();
  private readonly subscriptions = new Set<EsdbSubscription>();

  constructor(connectionString: string, readonly onError: (err: unknown, where: string) => void = () => {}) {
    this.client = EventStoreDBClient.connectionString`${connectionString}`;
  }

  async append(streamId: string, events: readonly EventData[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    validateAppend(streamId, events, expected);
    const data = events.map((e) => {
      if (e.data === null || (typeof e.data !== 'object' && typeof e.data !== 'string')) {
        throw new InvalidEvent(`Event ${e.id}: data must be a JSON object, array or string`);
      }
      return jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: (e.metadata ?? {}) as JSONType });
    });
    try {
      const r = await this.client.appendToStream(streamId, data, { expectedRevision: expected });
      // An idempotent retry may come back without a position: take the stored event's.
      const position = r.position ?? (await this.readStream(streamId, { fromRevision: r.nextExpectedRevision, maxCount: 1 }))[0]?.position;
      if (!position) throw new Error(`EventStoreDB gave no position for the append to ${streamId}`);
      return { nextExpectedRevision: r.nextExpectedRevision, position: { commit: position.commit, prepare: position.prepare } };
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        const actual = err.actualVersion === 'no_stream' ? -1n : BigInt(err.actualVersion);
        throw new WrongExpectedVersion(streamId, expected, actual);
      }
      throw err;
    }
  }

  async setMaxAge(streamId: string, maxAgeSeconds: number): Promise<void> {
    await this.client.setStreamMetadata(streamId, { maxAge: maxAgeSeconds });
  }

  async deleteOlderThan(): Promise<number> {
    // Expired events ($maxAge) are unreadable at once and removed by the server's scavenge.
    return 0;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    const out: RecordedEvent[] = [];
    try {
      for await (const r of this.client.readStream(streamId, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: from === 'start' ? ESDB_START : from === 'end' ? END : from,
        maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
      })) {
        if (r.event) out.push(toRecorded(r.event));
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    }
    return out;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    const max = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const out: RecordedEvent[] = [];
    // $all reads here take no filter: read in pages and keep what matches.
    let cursor: Position | 'start' | 'end' = from;
    const page = 500;
    while (out.length < max) {
      let read = 0;
      let last: Position | undefined;
      for await (const r of this.client.readAll({
        direction: backwards ? BACKWARDS : FORWARDS,
        fromPosition: cursor === 'start' ? ESDB_START : cursor === 'end' ? END : cursor,
        maxCount: page,
      }) as AsyncIterable<AllStreamResolvedEvent>) {
        read++;
        if (!r.event) continue;
        const e = toRecorded(r.event as EsdbRecorded);
        last = e.position;
        // Reads from a position include it; the port's `fromPosition` is exclusive.
        if (typeof from === 'object' && comparePositions(e.position, from) === 0) continue;
        if (typeof cursor === 'object' && comparePositions(e.position, cursor) === 0) continue;
        if (!matches(e, options.filter)) continue;
        out.push(e);
        if (out.length >= max) break;
      }
      if (read < page || !last) break;
      cursor = last;
    }
    return out;
  }

  async headPosition(filter?: EventFilter): Promise<Position | undefined> {
    const [last] = await this.readAll({ direction: 'backwards', maxCount: 1, filter });
    return last?.position;
  }

  async countEvents(options: { after?: Position; filter?: EventFilter; limit?: number } = {}): Promise<number> {
    // EventStoreDB keeps no counts: read (bounded by `limit`).
    const events = await this.readAll({ fromPosition: options.after ?? 'start', filter: options.filter, maxCount: options.limit ?? 100_000 });
    return events.length;
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    const sub = new EsdbSubscription(this, options, () => this.subscriptions.delete(sub));
    this.subscriptions.add(sub);
    return sub;
  }

  /** Opens a server subscription; tracked so `dropSubscriptions` can sever it. */
  openServerSubscription(from: Position | 'start' | 'end', filter?: EventFilter): AllStreamSubscription {
    const sub = this.client.subscribeToAll({
      fromPosition: from === 'start' ? ESDB_START : from === 'end' ? END : from,
      filter: serverFilter(filter),
    });
    this.live.add(sub);
    sub.once('close', () => this.live.delete(sub));
    return sub;
  }

  /** Drops every live server subscription as a lost connection would (the contract suite uses it). */
  dropSubscriptions(): void {
    for (const s of this.live) s.destroy(new Error('subscription dropped'));
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
  }
}
