import pg from 'pg';
import { comparePositions, parsePosition } from '../position.js';
import type { Position } from '../types.js';
import { backoff, sleep, Wakeup } from '../wakeup.js';

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
  private client?: pg.Client;
  private stopped = false;
  private started?: Promise<void>;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Events up to `position` are committed: wakes the readers. */
  announce(position: Position): void {
    if (!this.heard || comparePositions(position, this.heard) > 0) this.heard = position;
    this.wakeup.wake();
  }

  /** Something may have been committed: wakes the readers, who read to find out. */
  poke(): void {
    this.unsure = true;
    this.wakeup.wake();
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
      if (err) this.onError(err);
      this.poke();
      void sleep(backoff(0)).then(() => this.connect(1));
    };
    try {
      await client.connect();
      client.on('notification', (msg) => this.heardOf(msg.payload));
      client.on('error', lost);
      client.on('end', () => lost(new Error('LISTEN connection ended')));
      await client.query(`listen ${this.channel}`);
      this.client = client;
      if (this.stopped) await client.end();
      else if (attempt > 0) this.poke();
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      if (this.stopped) return;
      this.onError(err);
      await sleep(backoff(attempt));
      return this.connect(attempt + 1);
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
    this.wakeup.wake();
  }
}
