import {
  BrokenCircuitError,
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import type { Redis } from 'ioredis';
import { SpanKind, withSpan } from '../../infra/tracing.js';
import {
  authorityOf,
  carrierOf,
  docketDigits,
  type FmcsaAuthority,
  type FmcsaCarrier,
  type FmcsaOutOfServiceOrder,
  outOfServiceOf,
  records,
} from './answers.js';

/** The four QCMobile resources a verification reads. */
export interface FmcsaApi {
  carrier(dotNumber: string): Promise<FmcsaCarrier | undefined>;
  carriersByDocket(mcNumber: string): Promise<FmcsaCarrier[]>;
  authority(dotNumber: string): Promise<FmcsaAuthority[]>;
  outOfService(dotNumber: string): Promise<FmcsaOutOfServiceOrder[]>;
}

/** The register could not answer now (5xx, an HTML maintenance page, a timeout, no connection): try later. */
export class FmcsaUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FmcsaUnavailable';
  }
}

/** The register refused the request itself (a bad webKey, a malformed path): retrying will not help. */
export class FmcsaRejected extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'FmcsaRejected';
  }
}

/** The circuit is open: the register failed repeatedly; nothing is sent until `retryInMs` passes. */
export class FmcsaCircuitOpen extends Error {
  constructor(readonly retryInMs: number) {
    super(`FMCSA circuit open; calls resume in ${retryInMs} ms`);
    this.name = 'FmcsaCircuitOpen';
  }
}

export interface FmcsaClientOptions {
  baseUrl: string;
  webKey: string;
  /** Per call. */
  timeoutMs: number;
  /** Attempts per call (1 = no retry), with exponential backoff and jitter between them. */
  attempts: number;
  retryInitialDelayMs?: number;
  /** Consecutive failed calls that open the circuit, and how long it stays open. */
  breakerFailures: number;
  breakerOpenMs: number;
  /** Recent answers, by resource, for this many seconds (0: no cache). */
  cache?: { redis: Redis; seconds: number };
  /** Told of every call's outcome (metrics). */
  observe?: (resource: string, outcome: 'ok' | 'not_found' | 'unavailable' | 'rejected', ms: number) => void;
}

const transient = (err: Error) => err instanceof FmcsaUnavailable || err instanceof TaskCancelledError;

/**
 * The QCMobile client: every call has a timeout, is retried with exponential backoff and jitter
 * when the register is unavailable, and goes through one circuit breaker per client; answers
 * are cached in Redis. A caller sees FmcsaCircuitOpen while the circuit is open, so a queued
 * verification can wait instead of failing.
 */
export class FmcsaClient implements FmcsaApi {
  private readonly breaker;
  private readonly policy;
  private openedAt = 0;

  constructor(private readonly options: FmcsaClientOptions) {
    this.breaker = circuitBreaker(handleWhen(transient), {
      halfOpenAfter: options.breakerOpenMs,
      breaker: new ConsecutiveBreaker(options.breakerFailures),
    });
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
    });
    const retrying = retry(handleWhen(transient), {
      maxAttempts: Math.max(0, options.attempts - 1),
      backoff: new ExponentialBackoff({ initialDelay: options.retryInitialDelayMs ?? 250, maxDelay: 10_000 }),
    });
    // Retry outermost: a retry goes through the breaker again, and stops once it opens.
    this.policy = wrap(retrying, this.breaker, timeout(options.timeoutMs, TimeoutStrategy.Aggressive));
  }

  /** 'half-open' once the open period is over: the next call is the trial (cockatiel moves state lazily, on a call). */
  get circuit(): 'closed' | 'open' | 'half-open' {
    const s = this.breaker.state;
    if (s === CircuitState.Closed) return 'closed';
    if (s === CircuitState.HalfOpen) return 'half-open';
    return this.retryInMs > 0 ? 'open' : 'half-open';
  }

  /** How long until the open circuit lets a trial call through (0 when closed). */
  get retryInMs(): number {
    if (this.breaker.state !== CircuitState.Open && this.breaker.state !== CircuitState.Isolated) return 0;
    return Math.max(0, this.openedAt + this.options.breakerOpenMs - Date.now());
  }

  async carrier(dotNumber: string) {
    const body = await this.get(`carriers/${encodeURIComponent(dotNumber)}`);
    const [r] = records(body, 'carrier');
    return r ? carrierOf(r) : undefined;
  }

  async carriersByDocket(mcNumber: string) {
    const body = await this.get(`carriers/docket-number/${encodeURIComponent(docketDigits(mcNumber))}`);
    return records(body, 'carrier').flatMap((r) => carrierOf(r) ?? []);
  }

  async authority(dotNumber: string) {
    return records(await this.get(`carriers/${encodeURIComponent(dotNumber)}/authority`)).map(authorityOf);
  }

  async outOfService(dotNumber: string) {
    return records(await this.get(`carriers/${encodeURIComponent(dotNumber)}/oos`), 'oos').map(outOfServiceOf);
  }

  /** One resource's JSON (null for "no such record"), from the cache or the register. */
  private async get(resource: string): Promise<unknown> {
    const cache = this.options.cache && this.options.cache.seconds > 0 ? this.options.cache : undefined;
    const key = `fmcsa:${resource}`;
    if (cache) {
      const hit = await cache.redis.get(key);
      if (hit !== null) return JSON.parse(hit) as unknown;
    }
    let body: unknown;
    try {
      // A signal of its own per call: cockatiel would otherwise hang every call's listener on one shared signal.
      body = await this.policy.execute(({ signal }) => this.fetch(resource, signal), new AbortController().signal);
    } catch (err) {
      if (err instanceof BrokenCircuitError) throw new FmcsaCircuitOpen(this.retryInMs);
      if (err instanceof TaskCancelledError)
        throw new FmcsaUnavailable(`FMCSA did not answer ${resource} within ${this.options.timeoutMs} ms`, {
          cause: err,
        });
      throw err;
    }
    if (cache) await cache.redis.set(key, JSON.stringify(body), 'EX', cache.seconds);
    return body;
  }

  /** One request to the register (a client span when tracing; the web key is never in it). */
  private fetch(resource: string, signal: AbortSignal): Promise<unknown> {
    const name = resource.replace(/\d+/g, ':n');
    return withSpan(
      `fmcsa GET ${name}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': 'GET',
          'server.address': new URL(this.options.baseUrl).host,
          'freight.resource': name,
        },
      },
      (span) => this.fetchOnce(resource, name, signal, (o) => span?.setAttribute('freight.outcome', o)),
    );
  }

  private async fetchOnce(
    resource: string,
    name: string,
    signal: AbortSignal,
    traced: (o: string) => void,
  ): Promise<unknown> {
    const url = new URL(
      resource,
      this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`,
    );
    url.searchParams.set('webKey', this.options.webKey);
    const started = performance.now();
    const outcome = (o: 'ok' | 'not_found' | 'unavailable' | 'rejected') => {
      traced(o);
      this.options.observe?.(name, o, performance.now() - started);
    };
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { signal, headers: { accept: 'application/json' } });
      text = await res.text();
    } catch (err) {
      outcome('unavailable');
      if (signal.aborted) throw err; // the timeout: cockatiel turns it into TaskCancelledError
      throw new FmcsaUnavailable(`FMCSA unreachable: ${(err as Error).message}`, { cause: err });
    }
    // A maintenance page is HTML, whatever the status says.
    const html = /^\s*</.test(text) || (res.headers.get('content-type') ?? '').includes('text/html');
    if (res.status >= 500 || res.status === 429 || html) {
      outcome('unavailable');
      throw new FmcsaUnavailable(
        html ? `FMCSA answered an HTML page (status ${res.status}): maintenance` : `FMCSA answered ${res.status}`,
      );
    }
    if (res.status === 404) {
      outcome('not_found');
      return null;
    }
    if (res.status >= 400) {
      outcome('rejected');
      throw new FmcsaRejected(res.status, `FMCSA refused ${name}: ${res.status} ${text.slice(0, 200)}`);
    }
    try {
      const body = JSON.parse(text) as unknown;
      outcome('ok');
      return body;
    } catch {
      outcome('unavailable');
      throw new FmcsaUnavailable(`FMCSA answered something that is not JSON: ${text.slice(0, 80)}`);
    }
  }
}
