import pg from 'pg';
import { comparePositions, parsePosition } from '../position.js';
import type { Position } from '../types.js';
import { backoff, sleep, Wakeup } from '../wakeup.js';

/**
 * One LISTEN connection on one channel that outlives lost connections: it reconnects with
 * backoff, and says when it (re)connected after a loss, since notifications may have been missed
 * meanwhile (`onLost`).
 */
export class PgListener {
  private client?: pg.Client;
  private stopped = false;
  private started?: Promise<void>;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly handlers: {
      notification: (payload: string | undefined) => void;
      /** Notifications may have been missed (the connection was lost, or came back). */
      lost: () => void;
      error: (err: unknown) => void;
    },
  ) {}

  start(): Promise<void> {
    this.started ??= this.connect(0);
    return this.started;
  }

  private async connect(attempt: number): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.databaseUrl });
    const lost = (err?: unknown) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.removeAllListeners();
      client.on('error', () => {});
      void client.end().catch(() => {});
      if (this.stopped) return;
      if (err) this.handlers.error(err);
      this.handlers.lost();
      void sleep(backoff(0)).then(() => this.connect(1));
    };
    try {
      await client.connect();
      client.on('notification', (msg) => this.handlers.notification(msg.payload));
      client.on('error', lost);
      client.on('end', () => lost(new Error('LISTEN connection ended')));
      await client.query(`listen ${this.channel}`);
      this.client = client;
      if (this.stopped) await client.end();
      else if (attempt > 0) this.handlers.lost();
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      if (this.stopped) return;
      this.handlers.error(err);
      await sleep(backoff(attempt));
      return this.connect(attempt + 1);
    }
  }

  /** Sends a NOTIFY on this connection (answers false when it is not connected; errors are reported, not thrown). */
  async notify(channel: string, payload: string): Promise<boolean> {
    const c = this.client;
    if (!c) return false;
    try {
      await c.query('select pg_notify($1, $2)', [channel, payload]);
      return true;
    } catch (err) {
      this.handlers.error(err);
      return false;
    }
  }

  /** The backend pid of the LISTEN connection (tests kill it). */
  pid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners();
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
  }
}

/**
 * One LISTEN connection per store, shared by its subscriptions. A notification names the newest
 * position its sender committed (`heard` keeps the highest), so readers know whether there is
 * anything they have not read yet, and how far. If the connection is lost it reconnects with
 * backoff and wakes everyone with `unsure` set, since notifications may have been missed
 * meanwhile; subscriptions also poll, so a silent notifier only slows them down.
 */
export class Notifier {
  readonly wakeup = new Wakeup();
  /** The highest position announced committed, by this process or by a notification. */
  heard?: Position;
  /** Something may have been committed that no announcement named (a lost connection, an old sender). */
  unsure = false;
  private readonly listener: PgListener;
  private readonly watchers = new Set<() => void>();

  constructor(databaseUrl: string, channel: string, onError: (err: unknown) => void) {
    this.listener = new PgListener(databaseUrl, channel, { notification: (p) => this.heardOf(p), lost: () => this.poke(), error: onError });
  }

  /** Events up to `position` are committed: wakes the readers. */
  announce(position: Position): void {
    if (!this.heard || comparePositions(position, this.heard) > 0) this.heard = position;
    this.wake();
  }

  /** Something may have been committed: wakes the readers, who read to find out. */
  poke(): void {
    this.unsure = true;
    this.wake();
  }

  /** An append of this process failed: its transaction ended without a commit to announce. */
  settled(): void {
    for (const fn of [...this.watchers]) fn();
  }

  /** Calls `fn` on every announcement and poke from now on (starting the LISTEN connection); answers how to stop. */
  watch(fn: () => void): () => void {
    this.watchers.add(fn);
    void this.start();
    return () => this.watchers.delete(fn);
  }

  private wake(): void {
    this.wakeup.wake();
    for (const fn of [...this.watchers]) fn();
  }

  private heardOf(payload: string | undefined): void {
    try {
      if (payload) return this.announce(parsePosition(payload));
    } catch {
      // Not a position: treated like no payload.
    }
    this.poke();
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  /** The backend pid of the LISTEN connection (tests kill it). */
  pid(): number | undefined {
    return this.listener.pid();
  }

  async stop(): Promise<void> {
    this.watchers.clear();
    await this.listener.stop();
    this.wakeup.wake();
  }
}
