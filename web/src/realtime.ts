import { io, type Socket } from 'socket.io-client';
import type { Session } from './session.js';

/** The API's Socket.IO server, with the user's token; one connection for the whole page. */
export class Live {
  readonly socket: Socket;
  private readonly rooms = new Map<string, Record<string, unknown>>();

  constructor(session: Session, onStatus: (connected: boolean) => void) {
    this.socket = io({ transports: ['websocket'], auth: { token: session.token } });
    this.socket.on('connect', () => {
      onStatus(true);
      // After a reconnect, join again what the page was following.
      for (const [room, opts] of this.rooms) void this.join(room, opts);
    });
    this.socket.on('disconnect', () => onStatus(false));
  }

  /** Joins a room; the server answers whether this user may. */
  async subscribe(room: string, opts: Record<string, unknown> = {}): Promise<void> {
    this.rooms.set(room, opts);
    await this.join(room, opts);
  }

  private async join(room: string, opts: Record<string, unknown>) {
    const ack = (await this.socket.timeout(10_000).emitWithAck('subscribe', { room, ...opts })) as {
      ok: boolean;
      detail?: string;
    };
    if (!ack.ok) throw new Error(ack.detail ?? `Not allowed to follow ${room}`);
  }

  unsubscribeAll(): void {
    for (const [room, opts] of this.rooms) this.socket.emit('unsubscribe', { room, ...opts });
    this.rooms.clear();
    this.socket.off('load');
    this.socket.off('location');
  }

  close(): void {
    this.socket.disconnect();
  }
}
