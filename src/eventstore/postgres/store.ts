import type pg from 'pg';
import { createPgPool } from '../../infra/db.js';
import type {
  AppendResult,
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
import { validateAppend } from '../validate.js';
import { Appender } from './appender.js';
import { Notifier } from './notifier.js';
import { EVENT_COLUMNS, type EventRow, filterSql, positionParams, toRecorded } from './rows.js';
import { PgSubscription } from './subscription.js';

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
  onError?: (err: unknown, where: string) => void;
}

/** Events below this xid have all committed or aborted: reading below it is final. */
const STABLE = 'tx_id < pg_snapshot_xmin(pg_current_snapshot())';

export class PostgresEventStore implements EventStore {
  readonly name = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly notifier: Notifier;
  private readonly appender: Appender;
  private readonly subscriptions = new Set<PgSubscription>();

  constructor(private readonly opts: PostgresEventStoreOptions) {
    const poolMax = opts.poolMax ?? 10;
    this.pool = createPgPool(opts.databaseUrl, poolMax);
    const onError = opts.onError ?? (() => {});
    this.notifier = new Notifier(opts.databaseUrl, 'es_events', (err) => onError(err, 'listen'));
    this.appender = new Appender(this.pool, {
      groupCommit: opts.groupCommit ?? true,
      maxBatch: opts.maxBatch ?? 8,
      maxBatchEvents: opts.maxBatchEvents ?? 100,
      maxInFlight: opts.maxInFlight ?? Math.max(1, poolMax - 2),
      // Subscribers in this process hear of the append at once; others through NOTIFY.
      onAppended: () => {
        this.notifier.wakeup.wake();
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
        .query("select set_config('synchronous_commit', 'off', true), pg_notify('es_events', '')")
        .catch((err: unknown) => this.opts.onError?.(err, 'notify'))
        .finally(() => {
          this.notifyBusy = false;
          if (this.notifyPending && !this.closed) this.notifyOthers();
        });
    }, wait);
  }

  append(streamId: string, events: readonly EventData[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    try {
      validateAppend(streamId, events, expected);
      return this.appender.append(streamId, events, expected);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
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
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    return this.readAllPage(from, backwards, options.maxCount ?? null, options.filter);
  }

  /** One page of $all, only where no transaction is still in flight. */
  async readAllPage(from: Position | 'start' | 'end', backwards: boolean, limit: number | null, filter?: EventFilter): Promise<RecordedEvent[]> {
    if ((from === 'end' && !backwards) || (from === 'start' && backwards)) return [];
    const params: unknown[] = [limit];
    let bound = '';
    if (typeof from === 'object') {
      params.push(...positionParams(from));
      bound = ` and (tx_id, seq) ${backwards ? '<' : '>'} ($2::xid8, $3::bigint)`;
    }
    const f = filterSql(filter, params.length + 1);
    params.push(...f.params);
    const dir = backwards ? 'desc' : 'asc';
    const res = await this.pool.query<EventRow>(
      `select ${EVENT_COLUMNS} from es_events where ${STABLE}${bound}${f.sql}
        order by tx_id ${dir}, seq ${dir} limit $1`,
      params,
    );
    return res.rows.map(toRecorded);
  }

  /**
   * A forwards page for subscribers, with how far it looked: when the page is not full, every
   * event up to `scannedTo` (the newest stable event, in the same snapshot) was seen, matching the
   * filter or not, so a filtered reader can move past what it skipped instead of reading it again.
   */
  // Both branches name the text form `tx` (see EVENT_COLUMNS): unnamed, it would be called tx_id
  // and the ORDER BY would sort it as text.
  async scanPage(from: Position, limit: number, filter?: EventFilter): Promise<{ events: RecordedEvent[]; scannedTo?: Position }> {
    const f = filterSql(filter, 4);
    const res = await this.pool.query<EventRow & { is_head: boolean }>(
      `with snap as materialized (select pg_snapshot_xmin(pg_current_snapshot()) as xmin)
       (select ${EVENT_COLUMNS}, false as is_head from es_events
         where tx_id < (select xmin from snap) and (tx_id, seq) > ($2::xid8, $3::bigint)${f.sql}
         order by tx_id, seq limit $1)
       union all
       (select tx_id::text as tx, seq, null, null, null, null, null, null, null, true from es_events
         where tx_id < (select xmin from snap) order by tx_id desc, seq desc limit 1)`,
      [limit, ...positionParams(from), ...f.params],
    );
    const events: RecordedEvent[] = [];
    let head: Position | undefined;
    for (const row of res.rows) {
      if (row.is_head) head = { commit: BigInt(row.tx), prepare: BigInt(row.seq) };
      else events.push(toRecorded(row));
    }
    return { events, scannedTo: events.length < limit ? head : events[events.length - 1]?.position };
  }

  async headPosition(filter?: EventFilter): Promise<Position | undefined> {
    const [last] = await this.readAllPage('end', true, 1, filter);
    return last?.position;
  }

  async countEvents(options: { after?: Position; filter?: EventFilter; limit?: number } = {}): Promise<number> {
    const params: unknown[] = [options.limit ?? null];
    let bound = '';
    if (options.after) {
      params.push(...positionParams(options.after));
      bound = ' and (tx_id, seq) > ($2::xid8, $3::bigint)';
    }
    const f = filterSql(options.filter, params.length + 1);
    params.push(...f.params);
    const res = await this.pool.query<{ n: string }>(
      `select count(*) as n from (select 1 from es_events where ${STABLE}${bound}${f.sql} limit $1) x`,
      params,
    );
    return Number(res.rows[0]!.n);
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
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.notifier.stop();
    await this.pool.end();
  }
}

