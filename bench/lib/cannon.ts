/** autocannon against one route, a request built afresh for each call; throughput counts 2xx answers only. */
import autocannon from 'autocannon';

export interface Shot {
  perSecond: number;
  p99: number;
  p50: number;
  /** Requests answered (any status). */
  total: number;
  /** Non-2xx answers, errors and timeouts. */
  errors: number;
  /** The first non-2xx status seen, for the note. */
  statuses: Record<string, number>;
}

export interface Call {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export function shoot(
  url: string,
  opts: { connections: number; seconds?: number; amount?: number; request: () => Call },
): Promise<Shot> {
  const first = opts.request();
  return new Promise((resolve, reject) => {
    const statuses: Record<string, number> = {};
    const instance = autocannon(
      {
        url,
        connections: opts.connections,
        ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? 5 }),
        requests: [{ ...first, setupRequest: (req) => ({ ...req, ...opts.request() }) }],
      },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          perSecond: r['2xx'] / r.duration,
          p99: r.latency.p99,
          p50: r.latency.p50,
          total: r.requests.total,
          errors: r.non2xx + r.errors + r.timeouts,
          statuses,
        });
      },
    );
    instance.on('response', (_client, statusCode) => {
      if (statusCode >= 300) statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}
