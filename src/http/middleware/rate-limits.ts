import type { Redis } from 'ioredis';
import type { Context } from 'koa';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Actor } from '../../domain/shared/actor.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';

/** The budgets a request may draw on, by what it does. */
export type Budget = 'default' | 'gps' | 'payments' | 'loadboard';

export interface RateLimitSettings {
  /** Requests per minute from one IP address, authenticated or not. */
  perIp: number;
  /** Requests per minute per user, by budget: GPS bursts, payments and the load board have their own. */
  perUser: Record<Budget, number>;
}

export class RateLimited extends HttpProblem {
  constructor(retryAfterSeconds: number, what: string) {
    super(429, `${PROBLEM_BASE}rate-limited`, `Too many requests (${what}); retry in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }
}

/**
 * Redis-backed rate limits (rate-limiter-flexible), shared by every API process: one budget per IP
 * for all requests, and per user one budget per kind of request. A refused request is a 429
 * problem with `Retry-After`, and counts against nothing else.
 */
export class RateLimits {
  private readonly ip: RateLimiterRedis | undefined;
  private readonly user: Record<Budget, RateLimiterRedis | undefined>;

  constructor(
    redis: Redis,
    readonly settings: RateLimitSettings,
  ) {
    // A budget of 0 means no limit.
    const limiter = (prefix: string, points: number) =>
      points > 0
        ? new RateLimiterRedis({ storeClient: redis, keyPrefix: `rl:${prefix}`, points, duration: 60 })
        : undefined;
    this.ip = limiter('ip', settings.perIp);
    this.user = {
      default: limiter('user', settings.perUser.default),
      gps: limiter('gps', settings.perUser.gps),
      payments: limiter('payments', settings.perUser.payments),
      loadboard: limiter('loadboard', settings.perUser.loadboard),
    };
  }

  /** Counts a request from an address; throws RateLimited past the budget. */
  async byIp(ctx: Context): Promise<void> {
    await take(this.ip, ctx.ip, 'from this address', ctx);
  }

  async byUser(ctx: Context, actor: Actor, budget: Budget): Promise<void> {
    await take(
      this.user[budget],
      actor.userId,
      budget === 'default' ? 'for this user' : `${budget} requests for this user`,
      ctx,
    );
  }
}

async function take(limiter: RateLimiterRedis | undefined, key: string, what: string, ctx: Context): Promise<void> {
  if (!limiter) return;
  try {
    const r = await limiter.consume(key);
    ctx.set('RateLimit-Remaining', String(r.remainingPoints));
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
    ctx.set('Retry-After', String(seconds));
    throw new RateLimited(seconds, what);
  }
}

/** Which budget a route draws on, from its path. */
export function budgetOf(path: string): Budget {
  if (path.startsWith('/tracking/')) return 'gps';
  if (
    path.startsWith('/payments/') ||
    path.startsWith('/audit/') ||
    path.startsWith('/ledger/') ||
    path.startsWith('/webhooks/')
  )
    return 'payments';
  if (path === '/loads' || path.startsWith('/search/')) return 'loadboard';
  return 'default';
}
