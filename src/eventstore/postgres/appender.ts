import type pg from 'pg';
import { DuplicateEventId, InvalidEvent, WrongExpectedVersion } from '../errors.js';
import { comparePositions } from '../position.js';
import type { AppendResult, EventData, ExpectedRevision, Position } from '../types.js';

interface Pending {
  streamId: string;
  count: number;
  expected: ExpectedRevision;
  /** The append's events as a JSON array, serialised once when the append is queued. */
  json: string;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

interface ResultRow {
  idx: number;
  status: 'ok' | 'wrong_expected_version' | 'duplicate_id';
  next_revision: string | null;
  tx: string | null;
  last_seq: string | null;
  actual: string;
}

const FAST = { name: 'es_append', text: 'select * from es_append($1::text[], $2::text[], $3::jsonb, false)' };
const CHECKED = { name: 'es_append_checked', text: 'select * from es_append($1::text[], $2::text[], $3::jsonb, true)' };

export function serialiseEvents(events: readonly EventData[]): string {
  try {
    return JSON.stringify(events.map((e) => ({ i: e.id.toLowerCase(), t: e.type, d: e.data, m: e.metadata ?? {} })));
  } catch (err) {
    throw new InvalidEvent(`Event data is not JSON-serialisable: ${(err as Error).message}`);
  }
}

/**
 * Sends appends to `es_append`, one statement and one commit per batch. With group commit,
 * small appends queued in the same tick share a statement (at most `maxBatch` of them and
 * `maxBatchEvents` events), and up to `maxInFlight` batches run at once; a conflict fails only its
 * own caller (LIMITS.md: capping batches at ~8 and flushing on the next tick beat a timer).
 */
export class Appender {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: {
      groupCommit: boolean;
      maxBatch: number;
      maxBatchEvents: number;
      maxInFlight: number;
      onAppended: (position: Position) => void;
    },
  ) {}

  append(streamId: string, events: readonly EventData[], expected: ExpectedRevision): Promise<AppendResult> {
    const json = serialiseEvents(events);
    return new Promise<AppendResult>((resolve, reject) => {
      const pending: Pending = { streamId, count: events.length, expected, json, resolve, reject };
      if (!this.opts.groupCommit) {
        void this.send([pending]);
        return;
      }
      this.queue.push(pending);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < this.opts.maxInFlight) {
      const batch = this.take();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.flush());
        }
      });
    }
  }

  /**
   * The next batch: at most `maxBatch` appends and, beyond the first, `maxBatchEvents` events.
   * Sharing a commit pays for small appends; large ones go alone, in parallel statements.
   */
  private take(): Pending[] {
    let events = this.queue[0]!.count;
    let n = 1;
    while (
      n < this.queue.length &&
      n < this.opts.maxBatch &&
      events + this.queue[n]!.count <= this.opts.maxBatchEvents
    ) {
      events += this.queue[n]!.count;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /**
   * `checked` runs one append through es_append's checked path, which the fast path defers to when the
   * expectation failed or an id is already stored: it tells an idempotent retry from a conflict
   * and from a reused id.
   */
  private async send(batch: Pending[], checked = false): Promise<void> {
    let rows: ResultRow[];
    try {
      const res = await this.pool.query<ResultRow>({
        ...(checked ? CHECKED : FAST),
        values: [
          batch.map((p) => p.streamId),
          batch.map((p) => (typeof p.expected === 'bigint' ? p.expected.toString() : p.expected)),
          `[${batch.map((p) => p.json).join(',')}]`,
        ],
      });
      rows = res.rows;
    } catch (err) {
      // One bad append (a reused id further into its events, data Postgres cannot store) fails the
      // whole statement: retry each alone so it fails only its own caller.
      if (batch.length > 1) {
        await Promise.all(batch.map((p) => this.send([p])));
        return;
      }
      if (!checked && isDuplicateId(err)) return this.send(batch, true);
      batch[0]!.reject(mapError(err, batch[0]!.streamId));
      return;
    }
    const recheck: Promise<void>[] = [];
    let appended: Position | undefined;
    for (const row of rows) {
      const p = batch[row.idx - 1]!;
      if (row.status === 'ok') {
        const position = { commit: BigInt(row.tx!), prepare: BigInt(row.last_seq!) };
        if (!appended || comparePositions(position, appended) > 0) appended = position;
        p.resolve({ nextExpectedRevision: BigInt(row.next_revision!), position });
      } else if (row.status === 'wrong_expected_version' && !checked) {
        recheck.push(this.send([p], true));
      } else if (row.status === 'wrong_expected_version') {
        p.reject(new WrongExpectedVersion(p.streamId, p.expected, BigInt(row.actual)));
      } else {
        // es_append answers duplicate_id only about the append's first id (migration 006): that one is
        // stored already, elsewhere or without the rest of this append after it. A stored id further
        // into the append fails its insert instead, and mapError names it from the index's complaint.
        p.reject(new DuplicateEventId((JSON.parse(p.json) as { i: string }[])[0]!.i, p.streamId));
      }
    }
    if (rows.length !== batch.length) {
      // Cannot happen with es_append's contract; never leave a caller waiting if it does.
      const answered = new Set(rows.map((r) => r.idx));
      batch.forEach((p, i) => answered.has(i + 1) || p.reject(new Error(`es_append gave no answer for ${p.streamId}`)));
    }
    if (appended) this.opts.onAppended(appended);
    await Promise.all(recheck);
  }
}

function isDuplicateId(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'es_events_id';
}

function mapError(err: unknown, streamId: string): unknown {
  const e = err as { code?: string; message?: string; detail?: string; constraint?: string };
  if (e.code === '23505' && e.constraint === 'es_events_id') {
    const id = /\(id\)=\(([^)]+)\)/.exec(e.detail ?? '')?.[1] ?? 'unknown';
    return new DuplicateEventId(id, streamId);
  }
  // 22P05: untranslatable character (\u0000 in jsonb); 22P02 and 22xxx: data Postgres refuses.
  if (e.code?.startsWith('22')) return new InvalidEvent(`Postgres cannot store this event: ${e.message}`);
  return err;
}
