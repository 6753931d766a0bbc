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
} from '@eventstore/db-client';
import { DuplicateEventId, InvalidEvent, WrongExpectedVersion } from '../errors.js';
import { comparePositions } from '../position.js';
import type {
  AppendResult,
  DeliveryHold,
  EventData,
  EventFilter,
  EventStore,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../types.js';
import {
  validateAppend,
  validateCountEvents,
  validateFilter,
  validateReadAll,
  validateReadStream,
} from '../validate.js';
import { type EsdbRecorded, matches, toRecorded } from './recorded.js';
import { EsdbSubscription } from './subscription.js';

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The server-side filter of a subscription: EventStoreDB takes one; the rest is checked here. */
function serverFilter(filter?: EventFilter): Filter {
  if (filter?.streamPrefixes?.length) return streamNameFilter({ prefixes: [...filter.streamPrefixes] });
  if (filter?.eventTypes?.length)
    return eventTypeFilter({ regex: `^(${filter.eventTypes.map(escapeRegex).join('|')})$` });
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

  constructor(
    connectionString: string,
    readonly onError: (err: unknown, where: string) => void = () => {},
  ) {
    this.client = EventStoreDBClient.connectionString`${connectionString}`;
  }

  async append(
    streamId: string,
    events: readonly EventData[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    // Only an absent expectation means 'any': a null one is refused like any other non-revision.
    const expected = options.expectedRevision === undefined ? 'any' : options.expectedRevision;
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
      const position =
        r.position ??
        (await this.readStream(streamId, { fromRevision: r.nextExpectedRevision, maxCount: 1 }))[0]?.position;
      if (!position) throw new Error(`EventStoreDB gave no position for the append to ${streamId}`);
      return {
        nextExpectedRevision: r.nextExpectedRevision,
        position: { commit: position.commit, prepare: position.prepare },
      };
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        const actual = err.actualVersion === 'no_stream' ? -1n : BigInt(err.actualVersion);
        if (await this.reusedFirstId(streamId, events[0]!.id, expected, actual))
          throw new DuplicateEventId(events[0]!.id, streamId);
        throw new WrongExpectedVersion(streamId, expected, actual);
      }
      throw err;
    }
  }

  /**
   * Whether the server's WrongExpectedVersion means a reused id rather than a conflict. When some of
   * an append's ids are stored in the stream but not all of them as this very append, EventStoreDB
   * decides "corrupted idempotency" and answers WrongExpectedVersion (IndexWriter.CheckCommit and
   * StorageWriterService in EventStore/EventStore); the client's WrongExpectedVersionError carries
   * only the expected and current revisions, nothing else. It can be told apart here:
   * - with 'any', or 'stream_exists' on a stream that exists: nothing else fails these, so the
   *   server found the append's first id stored in this stream and a later one not after it;
   * - with 'no_stream' or a revision behind the stream's: the server compared the append's ids with
   *   the events after the expected revision; the first one stored right there means a later one
   *   differed (one read tells, on this error path only).
   * What it cannot tell, because the server appends and answers success (the id is then stored
   * twice; Postgres refuses these with DuplicateEventId):
   * - an id stored in another stream: EventStoreDB keeps no index of ids across streams;
   * - with 'any' / 'stream_exists', a first id no longer in the server's cache of recent ids
   *   (its idempotency check for these looks only there), or a stored id after a new first one;
   * - an expected revision equal to the stream's: the server checks no ids at all then.
   * And with a revision ahead of the stream's, the server answers a conflict before looking at ids.
   */
  private async reusedFirstId(
    streamId: string,
    firstId: string,
    expected: ExpectedRevision,
    actual: bigint,
  ): Promise<boolean> {
    if (expected === 'any') return true;
    if (expected === 'stream_exists') return actual >= 0n;
    const at = expected === 'no_stream' ? 0n : expected + 1n;
    if (actual < at) return false;
    const [stored] = await this.readStream(streamId, { fromRevision: at, maxCount: 1 }).catch(() => []);
    return stored !== undefined && stored.revision === at && stored.id.toLowerCase() === firstId.toLowerCase();
  }

  async setMaxAge(streamId: string, maxAgeSeconds: number): Promise<void> {
    await this.client.setStreamMetadata(streamId, { maxAge: maxAgeSeconds });
  }

  async deleteOlderThan(): Promise<number> {
    // Expired events ($maxAge) are unreadable at once and removed by the server's scavenge.
    return 0;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    validateReadStream(options);
    // Checked here: the client would send a count of 0 to the server, which need not read it as "none".
    if (options.maxCount === 0) return [];
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
    validateReadAll(options);
    if (options.maxCount === 0) return [];
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
    validateFilter(filter);
    const [last] = await this.readAll({ direction: 'backwards', maxCount: 1, filter });
    return last?.position;
  }

  async countEvents(options: { after?: Position; filter?: EventFilter; limit?: number } = {}): Promise<number> {
    validateCountEvents(options);
    // EventStoreDB keeps no counts: read (bounded by `limit`).
    const events = await this.readAll({
      fromPosition: options.after ?? 'start',
      filter: options.filter,
      maxCount: options.limit ?? 100_000,
    });
    return events.length;
  }

  async caughtUp(after: Position | undefined, upTo: Position, filter?: EventFilter): Promise<boolean> {
    validateFilter(filter);
    // Positions are handed out in commit order here: what is not readable yet cannot land before upTo.
    const [next] = await this.readAll({ fromPosition: after ?? 'start', maxCount: 1, filter });
    return !next || comparePositions(next.position, upTo) > 0;
  }

  onCaughtUpChange(): () => void {
    // Positions are handed out in commit order: nothing but the subscriber's own reading changes caughtUp.
    return () => {};
  }

  async deliveryHold(): Promise<DeliveryHold> {
    // The live subscription furthest behind (the oldest event it has yet to receive of what it
    // asked for), and how many it has yet to receive, counted for that one only.
    let worst: { sub: EsdbSubscription; heldSeconds: number } | undefined;
    for (const sub of this.subscriptions) {
      if (!sub.lastSeen) continue;
      const [next] = await this.readAll({ fromPosition: sub.lastSeen, filter: sub.options.filter, maxCount: 1 });
      if (!next) continue;
      const heldSeconds = Math.max(0, (Date.now() - next.createdAt.getTime()) / 1000);
      if (!worst || heldSeconds > worst.heldSeconds) worst = { sub, heldSeconds };
    }
    if (!worst) return { heldEvents: 0, heldSeconds: 0 };
    const heldEvents = await this.countEvents({
      after: worst.sub.lastSeen,
      filter: worst.sub.options.filter,
      limit: 10_001,
    });
    return { heldEvents, heldSeconds: worst.heldSeconds };
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
