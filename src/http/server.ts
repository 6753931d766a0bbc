import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import type { Logger } from '../infra/logger.js';
import { PROBLEM_BASE, title } from './errors.js';

/**
 * How long a client may take. A phone on a poor network sends a request's headers within seconds
 * and a ping batch (at most 512 KiB, usually a few) well within a minute; a client trickling
 * bytes slower than that only holds a connection others could use (slowloris).
 */
export interface ServerLimits {
  /** From the first byte of a request until its last header. */
  headersTimeoutMs: number;
  /** From the first byte of a request until its last body byte. */
  requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A request line and headers larger than this are refused (431). */
  maxHeaderBytes: number;
}

/** What the node parser's refusals mean, answered as problems (Node's own answers have no body). */
const REFUSALS: Record<string, { status: number; type: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, type: 'headers-too-large', detail: 'The request line and headers are too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    type: 'payload-too-large',
    detail: 'The chunk extensions are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, type: 'request-timeout', detail: 'The request was not received in time' },
};
const MALFORMED = { status: 400, type: 'malformed-request', detail: 'The request is not valid HTTP' };
const UPGRADE = {
  status: 400,
  type: 'upgrade-not-supported',
  detail: 'Only /socket.io/ takes an Upgrade; send the request without one',
};
const CONNECT = { status: 405, type: 'method-not-allowed', detail: 'This server is not a proxy: CONNECT is not taken' };

/** The raw HTTP answer to a refusal the server sees before any request exists. */
export function refusal(
  code: string | undefined,
  r: { status: number; type: string; detail: string } = (code && REFUSALS[code]) || MALFORMED,
): string {
  const body = JSON.stringify({
    type: `${PROBLEM_BASE}${r.type}`,
    title: title(r.status),
    status: r.status,
    detail: r.detail,
    requestId: randomUUID(),
  });
  return (
    `HTTP/1.1 ${r.status} ${title(r.status)}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * The HTTP server the app (and Socket.IO) runs on, with the limits above enforced every second,
 * and every refusal Node's parser makes (oversized headers, timeouts, malformed requests) answered
 * as application/problem+json and logged, as the app's own refusals are.
 */
export function createHttpServer(app: Koa, limits: ServerLimits, logger: Logger): Server {
  const handle = app.callback();
  const server = createServer(
    {
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often expired requests are looked for: the timeouts above hold to within this.
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      // The app refuses a request without Host itself, as a problem (hostRequired in app.ts).
      requireHostHeader: false,
    },
    handle,
  );
  // Expect: 100-continue is answered by the route once it reads the body, after the caller and its
  // role are known (readJsonBody), not by Node before anything is checked.
  server.on('checkContinue', handle);
  // With Socket.IO attached, Node hands every request with an Upgrade header to the upgrade listeners:
  // one not for Socket.IO would otherwise be dropped without an answer.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if (server.listenerCount('upgrade') > 1 && req.url?.startsWith('/socket.io/')) return;
    socket.end(refusal(undefined, UPGRADE), () => socket.destroy());
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
    socket.end(refusal(undefined, CONNECT), () => socket.destroy()),
  );
  server.on(
    'clientError',
    (err: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } }) => {
      const code = err.code;
      if (code !== 'ECONNRESET' && code !== 'EPIPE')
        logger.warn('request refused before it reached the app', { code, reason: err.message });
      // As Node does: answer only when nothing of a response was written to this socket yet.
      if (socket.writable && !socket._httpMessage?.headersSent && code !== 'ECONNRESET')
        socket.end(refusal(code), () => socket.destroy());
      else socket.destroy();
    },
  );
  // Node answers an Expect it does not know with a bare 417: say so as a problem.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({
      type: `${PROBLEM_BASE}expectation-failed`,
      title: title(417),
      status: 417,
      detail: 'Only Expect: 100-continue is understood',
      requestId: randomUUID(),
    });
    res.writeHead(417, {
      'Content-Type': 'application/problem+json',
      'Content-Length': Buffer.byteLength(body),
      Connection: 'close',
    });
    res.end(body);
  });
  return server;
}
