/**
 * The ceiling of the fan-out scenario: a bare Socket.IO server (no adapter, no auth, no rooms
 * but one). Clients that connect with `auth: { role: 'client' }` join the room `all`; a controller
 * (any other socket) sends `fire` with a payload, which goes to the room as a `load` message,
 * serialized once by Socket.IO like any broadcast. Prints {"port":N} once listening.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { serveClient: false, transports: ['websocket'] });
io.on('connection', (socket) => {
  if ((socket.handshake.auth as { role?: string }).role === 'client') void socket.join('all');
  else socket.on('fire', (payload: unknown) => io.to('all').emit('load', payload));
});
http.listen(0, '127.0.0.1', () => {
  const a = http.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
});
process.on('SIGTERM', () => io.close(() => process.exit(0)));
