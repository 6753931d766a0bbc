import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import type { Middleware } from 'koa';
import { isAdmin } from '../domain/shared/actor.js';
import type { Authenticator } from '../auth/authenticate.js';
import { type JobQueues, QUEUE_NAMES } from '../jobs/queues.js';

export const QUEUE_BOARD_PATH = '/admin/queues';
const COOKIE = 'queue_board_token';

/**
 * The BullMQ board (bull-board) at /admin/queues, for admins only. A browser cannot send a bearer
 * header, so `/admin/queues?token=<admin JWT>` once stores the token in an HttpOnly cookie scoped
 * to the board; API clients may send the header as usual. The token is checked on every request.
 */
export function queueBoard(queues: JobQueues, auth: Authenticator): Middleware {
  const adapter = new KoaAdapter();
  createBullBoard({ queues: QUEUE_NAMES.map((n) => new BullMQAdapter(queues.queue(n))), serverAdapter: adapter });
  adapter.setBasePath(QUEUE_BOARD_PATH);
  const board = adapter.registerPlugin();
  return async function queueBoardAuth(ctx, next) {
    if (ctx.path !== QUEUE_BOARD_PATH && !ctx.path.startsWith(`${QUEUE_BOARD_PATH}/`)) return next();
    const fromQuery = typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
    const token = fromQuery ?? ctx.cookies.get(COOKIE);
    const header = ctx.get('authorization') || (token ? `Bearer ${token}` : undefined);
    const actor = await auth.fromAuthorizationHeader(header);
    if (!isAdmin(actor)) {
      ctx.status = 403;
      ctx.type = 'application/problem+json';
      ctx.body = {
        type: 'urn:freight:problem:forbidden',
        title: 'Forbidden',
        status: 403,
        detail: 'The queue board is for admins',
      };
      return;
    }
    if (fromQuery) {
      ctx.cookies.set(COOKIE, fromQuery, {
        httpOnly: true,
        sameSite: 'strict',
        path: QUEUE_BOARD_PATH,
        secure: ctx.secure,
      });
      return ctx.redirect(QUEUE_BOARD_PATH);
    }
    return board(ctx, next);
  };
}
