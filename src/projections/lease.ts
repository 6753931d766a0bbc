import pg from 'pg';
import type { Logger } from '../infra/logger.js';

/**
 * Which projectors this process runs: a Postgres session advisory lock per projector, all held on
 * one connection of their own. Another process asking for a lock someone holds is told no at once
 * and stands by; when the holder dies its session ends, Postgres releases its locks, and a standby
 * takes over on its next try. If this process loses its connection it loses its leases: `onLost`
 * tells the runner to stop those projectors before another process starts them.
 */
export class ProjectorLeases {
  private client?: pg.Client;
  private connecting?: Promise<pg.Client>;
  private readonly held = new Set<string>();
  private closed = false;
  /** Queries on the one connection go one after another (pg 9 refuses overlapping ones). */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly lostListeners: ((names: string[]) => void)[] = [];

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    private readonly onLost: (names: string[]) => void = () => {},
  ) {}

  /** Tells `listener` too when leases are lost (the runner that holds them, once it is built). */
  whenLost(listener: (names: string[]) => void): void {
    this.lostListeners.push(listener);
  }

  holds(name: string): boolean {
    return this.held.has(name);
  }

  /** Takes the lease of a projector if nobody holds it; true while this process holds it. */
  async tryAcquire(name: string): Promise<boolean> {
    if (this.held.has(name)) return true;
    if (this.closed) return false;
    const { rows } = await this.inTurn(async () =>
      (await this.connection()).query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [
        `projector:${name}`,
      ]),
    );
    if (rows[0]?.ok) {
      this.held.add(name);
      this.logger.info('projector lease taken', { projector: name });
      return true;
    }
    return false;
  }

  async release(name: string): Promise<void> {
    if (!this.held.delete(name) || !this.client) return;
    const client = this.client;
    await this.inTurn(() => client.query('select pg_advisory_unlock(hashtext($1))', [`projector:${name}`])).catch(
      () => {},
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }

  /** For tests: drop the connection as a crash would, without releasing anything. */
  crash(): void {
    this.closed = true;
    (
      this.client as unknown as { connection?: { stream?: { destroy(): void } } } | undefined
    )?.connection?.stream?.destroy();
  }

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => {});
    return run;
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'projector-leases' });
      const lost = (err?: Error) => {
        if (this.client !== client) return;
        this.client = undefined;
        const names = [...this.held];
        this.held.clear();
        if (names.length && !this.closed) {
          this.logger.warn('projector leases lost with their connection; those projectors stop until taken again', {
            projectors: names,
            err,
          });
        }
        if (names.length) {
          this.onLost(names);
          for (const listener of this.lostListeners) listener(names);
        }
      };
      client.on('error', (err) => lost(err));
      client.on('end', () => lost());
      await client.connect();
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }
}
