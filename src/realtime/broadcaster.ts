import { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';

/** Sends one message to every socket in any of the rooms, on every API process. */
export interface Broadcaster {
  emit(rooms: readonly string[], event: string, payload: unknown): void;
}

/**
 * Broadcasts through Redis with the Socket.IO emitter, so any process (a projector, a worker)
 * reaches the sockets of every API process; those share rooms through the Redis adapter on the
 * same channel key. The payload is serialized once per message, whatever the number of sockets.
 */
export class RedisBroadcaster implements Broadcaster {
  private readonly emitter: Emitter;

  constructor(
    redis: Redis,
    channelKey: string,
    onError: (err: unknown) => void = () => {},
    /** Told of every message sent (metrics). */
    private readonly onEmit: (event: string) => void = () => {},
  ) {
    // The emitter publishes without awaiting: a failed publish (Redis away) must be reported, not
    // left as an unhandled rejection. Dashboards that miss a message catch up when they resume.
    const client = {
      publish: (channel: string, message: string | Buffer) => redis.publish(channel, message).catch(onError),
    };
    this.emitter = new Emitter(client, { key: channelKey });
  }

  emit(rooms: readonly string[], event: string, payload: unknown): void {
    if (rooms.length === 0) return;
    this.emitter.to([...rooms]).emit(event, payload);
    this.onEmit(event);
  }
}

/** The channel key of the adapter and the emitter: under the key prefix, since pub/sub channels are not prefixed by ioredis. */
export const channelKey = (keyPrefix: string) => `${keyPrefix}socket.io`;

/**
 * At most one message per key per interval: the first goes at once, later ones within the
 * interval are folded into one sent at its end with the newest value, so the last position of a
 * truck always arrives.
 */
export class Throttle<T> {
  private readonly sentAt = new Map<string, number>();
  private readonly pending = new Map<string, { value: T; timer: NodeJS.Timeout }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: number,
    private readonly send: (key: string, value: T) => void,
  ) {
    // Forget keys quiet for a while, so the map holds only what moves.
    this.sweeper = setInterval(() => {
      const old = Date.now() - Math.max(intervalMs, 1_000) * 10;
      for (const [k, at] of this.sentAt) if (at < old && !this.pending.has(k)) this.sentAt.delete(k);
    }, 60_000);
    this.sweeper.unref();
  }

  push(key: string, value: T): void {
    const waiting = this.pending.get(key);
    if (waiting) {
      waiting.value = value;
      return;
    }
    const now = Date.now();
    const last = this.sentAt.get(key);
    if (last === undefined || now - last >= this.intervalMs) {
      this.sentAt.set(key, now);
      this.send(key, value);
      return;
    }
    const timer = setTimeout(
      () => {
        const p = this.pending.get(key);
        this.pending.delete(key);
        if (!p) return;
        this.sentAt.set(key, Date.now());
        this.send(key, p.value);
      },
      last + this.intervalMs - now,
    );
    timer.unref();
    this.pending.set(key, { value, timer });
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
