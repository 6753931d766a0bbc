import pg from 'pg';
import { backoff, sleep, Wakeup } from '../wakeup.js';

/**
 * One LISTEN connection per store, shared by its subscriptions. If the connection is lost it
 * reconnects with backoff and wakes everyone, since notifications may have been missed meanwhile;
 * subscriptions also poll, so a silent notifier only slows them down.
 */
export class Notifier {
  readonly wakeup = new Wakeup();
  private client?: pg.Client;
  private stopped = false;
  private started?: Promise<void>;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly onError: (err: unknown) => void,
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
      if (err) this.onError(err);
      this.wakeup.wake();
      void sleep(backoff(0)).then(() => this.connect(1));
    };
    try {
      await client.connect();
      client.on('notification', () => this.wakeup.wake());
      client.on('error', lost);
      client.on('end', () => lost(new Error('LISTEN connection ended')));
      await client.query(`listen ${this.channel}`);
      this.client = client;
      if (this.stopped) await client.end();
      else if (attempt > 0) this.wakeup.wake();
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
