import pg from 'pg';
import { comparePositions, parsePosition } from '../position.js';
import type { Position } from '../types.js';
import { backoff, sleep, Wakeup } from '../wakeup.js';

interface ListenHandlers {
  notification: (payload: string | undefined) => void;
  /** Notifications may have been missed (the connection was lost, or came back). */
  lost: () => void;
  error: (err: unknown) => void;
}

/**
 * One LISTEN connection per database per process, shared by every channel listened to there (the
 * store's, and the read-your-writes waits' and announcers'). Postgres wakes every listening
 * session of a database on each NOTIFY in it, whatever the channel, so each extra listening
 * connection costs the server work on every append's notification. It outlives lost connections:
 * it reconnects with backoff, and tells every listener when it (re)connected after a loss, since
 * notifications may have been missed meanwhile.
 */
class ListenHub {
  private static readonly hubs = new Map<string, ListenHub>();
  private readonly channels = new Map<string, Set<ListenHandlers>>();
  private client?: pg.Client;
  private stopped = false;
  private connecting?: Promise<void>;

  private constructor(private readonly databaseUrl: string) {}

  static for(databaseUrl: string): ListenHub {
    let hub = ListenHub.hubs.get(databaseUrl);
    if (!hub) {
      hub = new ListenHub(databaseUrl);
      ListenHub.hubs.set(databaseUrl, hub);
    }
    return hub;
  }

  /** Listens on `channel` (connecting if need be); resolves once it is listened to. */
  async add(channel: string, h: ListenHandlers): Promise<void> {
    let set = this.channels.get(channel);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(h);
    if (!this.connecting) this.connecting = this.connect(0);
    await this.connecting;
    const c = this.client;
    if (fresh && c) await c.query(`listen ${channel}`).catch((err: unknown) => h.error(err));
  }

  /** Stops `h` listening; the last one out closes the connection. */
  async remove(channel: string, h: ListenHandlers): Promise<void> {
    const set = this.channels.get(channel);
    if (!set?.delete(h)) return;
    if (set.size === 0) {
      this.channels.delete(channel);
      await this.client?.query(`unlisten ${channel}`).catch(() => {});
    }
    if (this.channels.size === 0) await this.stop();
  }

  private all(): ListenHandlers[] {
    return [...this.channels.values()].flatMap((s) => [...s]);
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
      for (const h of this.all()) {
        if (err) h.error(err);
        h.lost();
      }
      void sleep(backoff(0)).then(() => this.connect(1));
    };
    try {
      await client.connect();
      client.on('notification', (msg) => {
        for (const h of [...(this.channels.get(msg.channel) ?? [])]) h.notification(msg.payload);
      });
      client.on('error', lost);
      client.on('end', () => lost(new Error('LISTEN connection ended')));
      for (const channel of this.channels.keys()) await client.query(`listen ${channel}`);
      this.client = client;
      if (this.stopped) await client.end();
      else if (attempt > 0) for (const h of this.all()) h.lost();
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      if (this.stopped) return;
      for (const h of this.all()) h.error(err);
      await sleep(backoff(attempt));
      return this.connect(attempt + 1);
    }
  }

  async notify(channel: string, payload: string, h: ListenHandlers): Promise<boolean> {
    const c = this.client;
    if (!c) return false;
    try {
      await c.query('select pg_notify($1, $2)', [channel, payload]);
      return true;
    } catch (err) {
      h.error(err);
      return false;
    }
  }

  pid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    if (ListenHub.hubs.get(this.databaseUrl) === this) ListenHub.hubs.delete(this.databaseUrl);
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners();
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
  }
}

/** Listening on one channel, over the process's one LISTEN connection to that database (ListenHub). */
export class PgListener {
  private hub?: ListenHub;
  private started?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly handlers: ListenHandlers,
  ) {}

  start(): Promise<void> {
    this.started ??= (async () => {
      if (this.stopped) return;
      this.hub = ListenHub.for(this.databaseUrl);
      await this.hub.add(this.channel, this.handlers);
    })();
    return this.started;
  }

  /** Sends a NOTIFY on the shared connection (answers false when it is not connected; errors are reported, not thrown). */
  notify(channel: string, payload: string): Promise<boolean> {
    return this.hub?.notify(channel, payload, this.handlers) ?? Promise.resolve(false);
  }

  /** The backend pid of the LISTEN connection (tests kill it). */
  pid(): number | undefined {
    return this.hub?.pid();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.started?.catch(() => {});
    await this.hub?.remove(this.channel, this.handlers);
    this.hub = undefined;
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
    this.listener = new PgListener(databaseUrl, channel, {
      notification: (p) => this.heardOf(p),
      lost: () => this.poke(),
      error: onError,
    });
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
