import type pg from 'pg';
import { createPgPool } from '../../infra/db.js';
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
import { formatPosition } from '../position.js';
import {
  validateAppend,
  validateCountEvents,
  validateFilter,
  validateReadAll,
  validateReadStream,
} from '../validate.js';
import { Appender } from './appender.js';
import { Notifier } from './notifier.js';
import {
  ES_APPEND_LOCK,
  EVENT_COLUMNS,
  eventColumns,
  type EventRow,
  filterSql,
  positionParams,
  toRecorded,
} from './rows.js';
import { PgSubscription } from './subscription.js';
import { LiveTail } from './tail.js';

export interface PostgresEventStoreOptions {
  databaseUrl: string;
  poolMax?: number;
  groupCommit?: boolean;
  /** Group commit: at most this many appends share a statement (default 8, see LIMITS.md). */
  maxBatch?: number;
  /** Group commit: appends share a statement only up to this many events in all (default 100). */
  maxBatchEvents?: number;
  /** Group commit: at most this many statements in flight (default: pool size - 2). */
  maxInFlight?: number;
  /** Polling fallback for subscriptions when no notification arrives. */
  pollMs?: number;
  /** At most one NOTIFY to other processes per this many ms (default 5). */
  notifyIntervalMs?: number;
  subscriptionBatch?: number;
  /** Newest events kept in memory for live subscriptions (default 20,000). */
  tailCapacity?: number;
  onError?: (err: unknown, where: string) => void;
}

/**
 * Reads deliver only events below the stable bound, where every append has committed or aborted
 * (migration 007: the oldest append in flight in this database; transactions that never append do
 * not count). The bound must come from an earlier statement than the read: `$n` is its value.
 */
const stable = (n: number) => `tx_id < $${n}::xid8`;
/** Index entries one filtered query looks at, at most (see scanWindow). */
const SCAN_WINDOW = 20_000;
/** Matches asked of one window when a filtered read has no limit. */
const FILTERED_PAGE = 1_000;

const hasFilter = (f: EventFilter | undefined) => Boolean(f?.streamPrefixes?.length || f?.eventTypes?.length);

export class PostgresEventStore implements EventStore {
  readonly name = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly notifier: Notifier;
  private readonly appender: Appender;
  private readonly subscriptions = new Set<PgSubscription>();
  /** The newest events, read once for all live subscriptions. */
  readonly tail: LiveTail;

  constructor(private readonly opts: PostgresEventStoreOptions) {
    const poolMax = opts.poolMax ?? 10;
    this.pool = createPgPool(opts.databaseUrl, poolMax);
    const onError = opts.onError ?? (() => {});
    this.notifier = new Notifier(opts.databaseUrl, 'es_events', (err) => onError(err, 'listen'));
    this.tail = new LiveTail(
      {
        notifier: this.notifier,
        scanPage: (from, limit) => this.scanPage(from, limit),
        headPosition: () => this.headPosition(),
      },
      {
        pollMs: opts.pollMs ?? 1000,
        page: opts.subscriptionBatch ?? 500,
        capacity: opts.tailCapacity ?? 20_000,
        onError: (err) => onError(err, 'subscription'),
      },
    );
    this.appender = new Appender(this.pool, {
      groupCommit: opts.groupCommit ?? true,
      maxBatch: opts.maxBatch ?? 8,
      maxBatchEvents: opts.maxBatchEvents ?? 100,
      maxInFlight: opts.maxInFlight ?? Math.max(1, poolMax - 2),
      // Subscribers in this process hear of the append at once; others through NOTIFY.
      onAppended: (position) => {
        this.notifier.announce(position);
        this.notifyOthers();
      },
    });
  }

  private notifyBusy = false;
  private notifyPending = false;
  private lastNotify = 0;
  private notifyTimer?: NodeJS.Timeout;

  /**
   * Tells subscribers in other processes that events were committed. Sent after the commit, off
   * the append's path, and throttled: a NOTIFY commits like a write (Postgres gives its
   * transaction an xid, so the commit flushes WAL), so at most one goes out per
   * `notifyIntervalMs`; the first of a quiet spell goes at once.
   */
  private notifyOthers(): void {
    if (this.notifyBusy) {
      this.notifyPending = true;
      return;
    }
    this.notifyBusy = true;
    this.notifyPending = false;
    const wait = Math.max(0, this.lastNotify + (this.opts.notifyIntervalMs ?? 5) - Date.now());
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      this.lastNotify = Date.now();
      this.pool
        // Its commit need not wait for a WAL flush: a lost NOTIFY only means a poll finds the events.
        // It names the newest position this process committed, so that listeners read only when
        // there is something new to them (their own appends come back to them too).
        .query("select set_config('synchronous_commit', 'off', true), pg_notify('es_events', $1)", [
          this.notifier.heard ? formatPosition(this.notifier.heard) : '',
        ])
        .catch((err: unknown) => this.opts.onError?.(err, 'notify'))
        .finally(() => {
          this.notifyBusy = false;
          if (this.notifyPending && !this.closed) this.notifyOthers();
        });
    }, wait);
  }

  append(
    streamId: string,
    events: readonly EventData[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    try {
      // Only an absent expectation means 'any': a null one is refused like any other non-revision.
      const expected = options.expectedRevision === undefined ? 'any' : options.expectedRevision;
      validateAppend(streamId, events, expected);
      // A failed append ends its transaction without a NOTIFY; a reader waiting behind it (caughtUp) may go on.
      return this.appender.append(streamId, events, expected).catch((err: unknown) => {
        this.notifier.settled();
        throw err;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    validateReadStream(options);
    if (options.maxCount === 0) return [];
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    const limit = options.maxCount ?? null;
    const params: unknown[] = [streamId, limit];
    let bound = '';
    if (typeof from === 'bigint') {
      params.push(from.toString());
      bound = ` and revision ${backwards ? '<=' : '>='} $3::bigint`;
    } else if ((from === 'end' && !backwards) || (from === 'start' && backwards)) {
      // Forwards from the end / backwards from the start: only the boundary event.
      bound = ` and revision = (select ${backwards ? 'min' : 'max'}(revision) from es_events where stream_id = $1)`;
    }
    const res = await this.pool.query<EventRow>(
      `select ${EVENT_COLUMNS} from es_events where stream_id = $1${bound}
        order by revision ${backwards ? 'desc' : 'asc'} limit $2`,
      params,
    );
    return res.rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    validateReadAll(options);
    if (options.maxCount === 0) return [];
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    return this.readAllPage(from, backwards, options.maxCount ?? null, options.filter);
  }

  /** One page of $all, only where no transaction is still in flight. */
  async readAllPage(
    from: Position | 'start' | 'end',
    backwards: boolean,
    limit: number | null,
    filter?: EventFilter,
  ): Promise<RecordedEvent[]> {
    if ((from === 'end' && !backwards) || (from === 'start' && backwards) || limit === 0) return [];
    let after = typeof from === 'object' ? from : undefined;
    // One bound for the whole page: an older bound is still safe, only less far along.
    const { bound: stableBound } = await this.snapshotBounds();
    if (hasFilter(filter)) {
      // Window by window (see scanWindow), until the page is full or history ends.
      const out: RecordedEvent[] = [];
      let window: number | undefined;
      for (;;) {
        const want = limit === null ? FILTERED_PAGE : Math.min(FILTERED_PAGE, limit - out.length);
        const w = await this.scanWindow(stableBound, after, backwards, want, filter, window);
        out.push(...w.events);
        if (!w.more || (limit !== null && out.length >= limit) || !w.scannedTo) return out;
        after = w.scannedTo;
        window = w.nextWindow;
      }
    }
    const params: unknown[] = [limit, stableBound];
    let bound = '';
    if (after) {
      params.push(...positionParams(after));
      bound = ` and (tx_id, seq) ${backwards ? '<' : '>'} ($3::xid8, $4::bigint)`;
    }
    const dir = backwards ? 'desc' : 'asc';
    const res = await this.pool.query<EventRow>(
      `select ${EVENT_COLUMNS} from es_events where ${stable(2)}${bound}
        order by tx_id ${dir}, seq ${dir} limit $1`,
      params,
    );
    return res.rows.map(toRecorded);
  }

  /**
   * A filtered read that cannot be planned badly. Asked for "matching events in position order,
   * limit n", Postgres guesses the filter selective and sorts every event after the position
   * (measured: 600 ms for a page of 500 on 1M events). So the query first takes a bounded window
   * of positions from the primary key, in order, then filters that window and fetches the matches'
   * bodies: each query costs at most `SCAN_WINDOW` index entries whatever the filter.
   * `scannedTo` is how far it looked (the last match when the page filled, else the window's last
   * event); `more` says whether history goes on past it; `nextWindow` sizes the next window to the
   * density of matches seen (a dense filter would otherwise scan far more than it returns).
   */
  private async scanWindow(
    stableBound: string,
    after: Position | undefined,
    backwards: boolean,
    limit: number,
    filter: EventFilter | undefined,
    window = Math.min(SCAN_WINDOW, limit * 2),
  ): Promise<{ events: RecordedEvent[]; scannedTo?: Position; more: boolean; nextWindow: number }> {
    const dir = backwards ? 'desc' : 'asc';
    const params: unknown[] = [limit, window, stableBound];
    let bound = '';
    if (after) {
      params.push(...positionParams(after));
      bound = ` and (tx_id, seq) ${backwards ? '<' : '>'} ($4::xid8, $5::bigint)`;
    }
    const f = filterSql(filter, params.length + 1);
    params.push(...f.params);
    const res = await this.pool.query<EventRow & { edge: boolean; scanned: string | null }>(
      `with scan as materialized (
         select tx_id, seq, stream_id, type, row_number() over (order by tx_id ${dir}, seq ${dir}) as rn from (
           select tx_id, seq, stream_id, type from es_events
            where ${stable(3)}${bound} order by tx_id ${dir}, seq ${dir} limit $2) w),
       hit as (select tx_id, seq, rn from scan where true${f.sql} order by rn limit $1)
       (select ${eventColumns('e')}, false as edge, hit.rn as scanned
          from hit join es_events e on e.tx_id = hit.tx_id and e.seq = hit.seq order by hit.rn)
       union all
       (select tx_id::text as tx, seq, null, null, null, null, null, null, null, true, (select count(*) from scan) from scan
         order by tx_id ${backwards ? 'asc' : 'desc'}, seq ${backwards ? 'asc' : 'desc'} limit 1)`,
      params,
    );
    const events: RecordedEvent[] = [];
    let edge: Position | undefined;
    let scanned = 0;
    let used = 0;
    for (const row of res.rows) {
      if (row.edge) {
        edge = { commit: BigInt(row.tx), prepare: BigInt(row.seq) };
        scanned = Number(row.scanned);
      } else {
        events.push(toRecorded(row));
        used = Number(row.scanned);
      }
    }
    // Matches per event looked at (up to the last match when the page filled), pessimistic when
    // none were found; the next window aims to fill the page with a little to spare.
    const density = Math.max(events.length, 0.5) / Math.max(events.length === limit ? used : scanned, 1);
    const nextWindow = Math.round(Math.min(SCAN_WINDOW, Math.max(limit, (limit / density) * 1.2)));
    if (limit > 0 && events.length === limit)
      return { events, scannedTo: events[events.length - 1]!.position, more: true, nextWindow };
    return { events, scannedTo: edge, more: scanned === window, nextWindow };
  }

  /**
   * A forwards page for subscribers, with how far it looked: every event up to `scannedTo` was
   * seen, matching the filter or not, so a filtered reader can move past what it skipped instead
   * of reading it again. `more` is false once the page reached the newest stable event.
   */
  async scanPage(
    from: Position,
    limit: number,
    filter?: EventFilter,
    window?: number,
  ): Promise<{ events: RecordedEvent[]; scannedTo?: Position; more: boolean; nextWindow?: number }> {
    const { bound } = await this.snapshotBounds();
    if (hasFilter(filter)) return this.scanWindow(bound, from, false, limit, filter, window);
    const res = await this.pool.query<EventRow>(
      `select ${EVENT_COLUMNS} from es_events
        where ${stable(4)} and (tx_id, seq) > ($2::xid8, $3::bigint) order by tx_id, seq limit $1`,
      [limit, ...positionParams(from), bound],
    );
    const events = res.rows.map(toRecorded);
    return { events, scannedTo: events[events.length - 1]?.position, more: events.length === limit };
  }

  /**
   * `bound`: the xid below which every append has ended (es_stable_bound), as text for a `$n::xid8`
   * parameter; `next`: the snapshot's xmax, which no committed write has reached. Asked in a
   * statement of its own: the read that uses them must take a later snapshot.
   */
  private async snapshotBounds(): Promise<{ bound: string; next: bigint }> {
    const res = await this.pool.query<{ b: string; next: string }>({
      name: 'es_stable_bound',
      text: 'select es_stable_bound()::text as b, pg_snapshot_xmax(pg_current_snapshot())::text as next',
    });
    return { bound: res.rows[0]!.b, next: BigInt(res.rows[0]!.next) };
  }

  async headPosition(filter?: EventFilter): Promise<Position | undefined> {
    validateFilter(filter);
    const [last] = await this.readAllPage('end', true, 1, filter);
    return last?.position;
  }

  async countEvents(options: { after?: Position; filter?: EventFilter; limit?: number } = {}): Promise<number> {
    validateCountEvents(options);
    const params: unknown[] = [options.limit ?? null, (await this.snapshotBounds()).bound];
    let bound = '';
    if (options.after) {
      params.push(...positionParams(options.after));
      bound = ' and (tx_id, seq) > ($3::xid8, $4::bigint)';
    }
    const f = filterSql(options.filter, params.length + 1);
    params.push(...f.params);
    const res = await this.pool.query<{ n: string }>(
      `select count(*) as n from (select 1 from es_events where ${stable(2)}${bound}${f.sql} limit $1) x`,
      params,
    );
    return Number(res.rows[0]!.n);
  }

  async caughtUp(after: Position | undefined, upTo: Position, filter?: EventFilter): Promise<boolean> {
    validateFilter(filter);
    // First: has every append at or below upTo's transaction ended? Then (a later snapshot, which
    // sees them all) is any matching event committed between?
    const { bound, next } = await this.snapshotBounds();
    // No committed write has a transaction id at or past the snapshot's xmax: a position there is
    // not one a command answered, and there is nothing to wait for.
    if (upTo.commit >= next) return true;
    if (BigInt(bound) <= upTo.commit) return false;
    const params: unknown[] = [...positionParams(upTo)];
    let from = '';
    if (after) {
      params.push(...positionParams(after));
      from = ' and (tx_id, seq) > ($3::xid8, $4::bigint)';
    }
    const f = filterSql(filter, params.length + 1);
    params.push(...f.params);
    const res = await this.pool.query<{ pending: boolean }>(
      `select exists (select 1 from es_events where (tx_id, seq) <= ($1::xid8, $2::bigint)${from}${f.sql}) as pending`,
      params,
    );
    return !res.rows[0]!.pending;
  }

  onCaughtUpChange(listener: () => void): () => void {
    return this.notifier.watch(listener);
  }

  async deliveryHold(): Promise<DeliveryHold> {
    const { bound } = await this.snapshotBounds();
    const held = await this.pool.query<{ n: string; oldest: Date | null }>(
      `select count(*) as n, min(created_at) as oldest from (select created_at from es_events where tx_id >= $1::xid8 limit 10001) x`,
      [bound],
    );
    const heldEvents = Number(held.rows[0]!.n);
    if (heldEvents === 0) return { heldEvents: 0, heldSeconds: 0 };
    const heldSeconds = Math.max(0, (Date.now() - held.rows[0]!.oldest!.getTime()) / 1000);
    // The oldest append still open in this database: what the held events wait for.
    const holder = await this.pool.query<{
      pid: number;
      application_name: string;
      state: string;
      query: string;
      open_seconds: number;
    }>(
      `select a.pid, coalesce(s.application_name, '') as application_name, coalesce(s.state, '') as state,
              left(coalesce(s.query, ''), 300) as query, extract(epoch from clock_timestamp() - s.xact_start)::float8 as open_seconds
         from pg_locks a join pg_stat_activity s on s.pid = a.pid
        where a.locktype = 'advisory' and a.granted and a.objsubid = 2
          and a.classid = ${ES_APPEND_LOCK.classid} and a.objid = ${ES_APPEND_LOCK.objid}
          and a.database = (select oid from pg_database where datname = current_database())
        order by s.xact_start limit 1`,
    );
    const h = holder.rows[0];
    return {
      heldEvents,
      heldSeconds,
      ...(h
        ? {
            holder: {
              pid: h.pid,
              applicationName: h.application_name,
              state: h.state,
              query: h.query,
              openSeconds: h.open_seconds,
            },
          }
        : {}),
    };
  }

  async setMaxAge(): Promise<void> {
    // Retention here is deleteOlderThan, run by a job; there is no per-stream setting to keep.
  }

  /**
   * Deletes old events of a stream category in batches of `batchSize`, each its own short
   * transaction, so that a long one does not make the table's other users wait on its locks. The prefix is inlined (checked) so that the partial index on
   * `created_at` of tracking streams (migration 004) can serve it.
   */
  async deleteOlderThan(options: { streamPrefix: string; before: Date; batchSize?: number }): Promise<number> {
    if (!/^[a-z][a-z0-9_]*-$/i.test(options.streamPrefix))
      throw new RangeError(`Not a stream category prefix: "${options.streamPrefix}"`);
    const batch = options.batchSize ?? 5_000;
    let total = 0;
    for (;;) {
      const res = await this.pool.query(
        `delete from es_events e using (
           select tx_id, seq from es_events where stream_id like '${options.streamPrefix}%' and created_at < $1 limit $2
         ) d where e.tx_id = d.tx_id and e.seq = d.seq`,
        [options.before, batch],
      );
      total += res.rowCount ?? 0;
      if ((res.rowCount ?? 0) < batch) return total;
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    const sub = new PgSubscription(this, {
      from: options.fromPosition ?? 'start',
      filter: options.filter,
      pollMs: this.opts.pollMs ?? 1000,
      batch: this.opts.subscriptionBatch ?? 500,
      onError: (err) => this.opts.onError?.(err, 'subscription'),
      onClose: () => this.subscriptions.delete(sub),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    this.tail.close();
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.notifier.stop();
    await this.pool.end();
  }
}
