import type { Session } from './session.js';

/** An answer the API refused: its problem+json, as the server wrote it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { type?: string; title?: string; detail?: string },
  ) {
    super(problem.detail ?? problem.title ?? `The server answered ${status}`);
    this.name = 'ApiError';
  }
}

/** The API, on the origin that served the dashboard, as the signed-in user. */
export async function api<T>(
  session: Session,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown } = {},
): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${session.token}`,
      accept: 'application/json',
      ...(init.body === undefined
        ? {}
        : { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  const json: unknown = text ? JSON.parse(text) : undefined;
  // The token expired or its user was deactivated: back to the sign-in page.
  if (res.status === 401) window.dispatchEvent(new CustomEvent('freight:unauthorized'));
  if (!res.ok) throw new ApiError(res.status, (json ?? {}) as ApiError['problem']);
  return json as T;
}

export const query = (params: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};
