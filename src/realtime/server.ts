import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import type { Authenticator } from '../auth/authenticate.js';
import { seesBoard } from '../domain/load/access.js';
import { type Actor, isStaff } from '../domain/shared/actor.js';
import { parsePosition } from '../eventstore/position.js';
import type { Logger } from '../infra/logger.js';
import { loadParties } from '../read-models/load-board/queries.js';
import { type LatestLocations, maySee } from '../read-models/tracking/latest.js';
import { missedSince } from './resume.js';
import { boardRoomsFor, loadRoom, orgRoom, parseRoom, type RoomKind, subscribeRequest, trackingRoom } from './rooms.js';

export interface RealtimeDeps {
  auth: Authenticator;
  /** Duplicated for the adapter's publishing and subscribing connections. */
  redis: Redis;
  channelKey: string;
  knex: Knex;
  locations: LatestLocations;
  logger: Logger;
  /**
   * How often each open connection's token and account are checked again (default 15 s): a user
   * deactivated, an organisation suspended or a token expired since the handshake is disconnected.
   */
  recheckMs?: number;
}

type Ack = (answer: Record<string, unknown>) => void;

class RoomDenied extends Error {}

const staff = isStaff;

/**
 * The Socket.IO server on the API's HTTP server. The handshake takes the same bearer token as the
 * API (`auth: { token }` or an Authorization header); a dashboard then asks for rooms with
 * `subscribe` ({ room, states?, equipment?, since? }) and is told yes or why not. With `since` (the
 * position of the last message it saw) it first receives what it missed, from the read models.
 * Rooms are shared by all API processes through the Redis adapter.
 */
export function attachRealtime(http: HttpServer, deps: RealtimeDeps): { io: Server; close(): Promise<void> } {
  // Without auto-pipelining: it defers a command to the next tick, and the adapter's close()
  // would then send its unsubscribes after our QUIT.
  const pub = deps.redis.duplicate({ enableAutoPipelining: false });
  const sub = deps.redis.duplicate({ enableAutoPipelining: false });
  const io = new Server(http, { serveClient: false, adapter: createAdapter(pub, sub, { key: deps.channelKey }) });

  /** The caller, from the handshake's token: checked at connection and again at each subscription. */
  const actorOf = (socket: Socket): Promise<Actor> => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    return typeof token === 'string'
      ? deps.auth.fromToken(token)
      : deps.auth.fromAuthorizationHeader(socket.handshake.headers.authorization);
  };

  io.use(async (socket, next) => {
    try {
      socket.data.actor = await actorOf(socket);
      next();
    } catch (err) {
      const e = err as { type?: string; message: string };
      next(Object.assign(new Error(e.message), { data: { type: e.type ?? 'urn:freight:problem:unauthorized' } }));
    }
  });

  /** The rooms a request may join, or why not. The actor is checked again: a user deactivated since the handshake is refused. */
  async function roomsFor(socket: Socket, room: RoomKind): Promise<string[]> {
    const actor = await actorOf(socket);
    socket.data.actor = actor;
    switch (room.kind) {
      case 'loadboard':
        if (!seesBoard(actor) && !staff(actor))
          throw new RoomDenied('The open load board is for carriers, dispatchers and staff');
        return boardRoomsFor(room.states, room.equipment);
      case 'org':
        if (!staff(actor) && actor.orgId !== room.id) throw new RoomDenied("Another organisation's room");
        return [orgRoom(room.id)];
      case 'load':
      case 'tracking': {
        const onBoard = await loadParties(deps.knex, room.id);
        const tracked = room.kind === 'tracking' ? await deps.locations.get(room.id) : undefined;
        const parties = tracked?.shipperOrgId ? tracked : onBoard;
        if (!parties || !maySee(actor, parties)) throw new RoomDenied('No such load that you may follow');
        return [room.kind === 'load' ? loadRoom(room.id) : trackingRoom(room.id)];
      }
      default: {
        const unknown: never = room;
        throw new RoomDenied(`Unknown room ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Checks every open connection of this process again: one whose token or account no longer holds
   * is told why (`revoked`, as a problem) and disconnected; one whose roles or organisation changed
   * leaves the board and organisation rooms it may no longer be in. Over HTTP this happens on the
   * next request; a socket makes no requests, so it is asked.
   */
  async function recheck(): Promise<void> {
    for (const socket of io.of('/').sockets.values()) {
      let actor: Actor;
      try {
        actor = await actorOf(socket);
      } catch (err) {
        const e = err as { status?: number; type?: string; message: string };
        if (e.status !== 401 && e.status !== 403) continue; // Redis or Postgres hiccup: ask again next time
        socket.emit('revoked', { type: e.type ?? 'urn:freight:problem:unauthorized', detail: e.message });
        socket.disconnect(true);
        continue;
      }
      socket.data.actor = actor;
      for (const room of socket.rooms) {
        const board = room.startsWith('lb:') && !seesBoard(actor) && !staff(actor);
        const org = room.startsWith('org:') && !staff(actor) && room !== orgRoom(actor.orgId);
        if (board || org) await socket.leave(room);
      }
    }
  }
  let rechecking: Promise<void> | undefined;
  const timer = setInterval(() => {
    rechecking ??= recheck()
      .catch((err: unknown) => void deps.logger.warn('realtime recheck failed', { err }))
      .finally(() => (rechecking = undefined));
  }, deps.recheckMs ?? 15_000);
  timer.unref();

  io.on('connection', (socket) => {
    socket.on('subscribe', async (raw: unknown, ack?: Ack) => {
      const reply: Ack = typeof ack === 'function' ? ack : () => {};
      const parsed = subscribeRequest.safeParse(raw);
      if (!parsed.success)
        return reply({
          ok: false,
          type: 'urn:freight:problem:validation',
          detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        });
      const room = parseRoom(parsed.data);
      if (!room)
        return reply({
          ok: false,
          type: 'urn:freight:problem:validation',
          detail: 'room must be loadboard, load:<id>, tracking:<loadId> or org:<orgId>',
        });
      try {
        const rooms = await roomsFor(socket, room);
        // Join first, then send what was missed: a change in between arrives twice (positions tell), never not at all.
        await socket.join(rooms);
        if (!parsed.data.since) return reply({ ok: true, rooms });
        const missed = await missedSince(deps, room, parsePosition(parsed.data.since));
        for (const m of missed.messages) socket.emit(m.event, m.payload);
        reply({ ok: true, rooms, resumed: missed.messages.length, truncated: missed.truncated });
      } catch (err) {
        if (err instanceof RoomDenied)
          return reply({ ok: false, type: 'urn:freight:problem:forbidden', detail: err.message });
        const e = err as { type?: string; message?: string };
        if (e.type) return reply({ ok: false, type: e.type, detail: e.message });
        deps.logger.error('subscribe failed', { err, room: parsed.data.room });
        reply({
          ok: false,
          type: 'urn:freight:problem:internal',
          detail: 'The subscription could not be made; try again',
        });
      }
    });

    socket.on('unsubscribe', async (raw: unknown, ack?: Ack) => {
      const reply: Ack = typeof ack === 'function' ? ack : () => {};
      const parsed = subscribeRequest.safeParse(raw);
      const room = parsed.success ? parseRoom(parsed.data) : undefined;
      if (!room) return reply({ ok: false, type: 'urn:freight:problem:validation', detail: 'no such room' });
      const names =
        room.kind === 'loadboard' ? boardRoomsFor(room.states, room.equipment) : [`${room.kind}:${room.id}`];
      for (const n of names) await socket.leave(n);
      reply({ ok: true, rooms: names });
    });
  });

  return {
    io,
    async close() {
      clearInterval(timer);
      await rechecking;
      // Disconnects every socket and closes the HTTP server under it.
      await new Promise<void>((resolve) => io.close(() => resolve()));
      // QUIT, not disconnect: the adapter's close() sends its UNSUBSCRIBEs without awaiting them,
      // and disconnecting under them rejects them as unhandled. QUIT is queued after them.
      await Promise.all([pub.quit(), sub.quit()]).catch(() => {});
    },
  };
}
