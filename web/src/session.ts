/** The signed-in user: the API's JWT, kept for this browser tab only, and what it says about them. */
export interface Session {
  token: string;
  userId: string;
  orgId: string;
  roles: string[];
  expiresAt?: Date;
}

const KEY = 'freight.token';

function payloadOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error('That is not a token: it should have three parts separated by dots');
  const json = atob(
    part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '='),
  );
  return JSON.parse(json) as Record<string, unknown>;
}

/** Reads a token's claims (the server checks the signature on every call; this only shapes the views). */
export function sessionOf(token: string): Session {
  const claims = payloadOf(token.trim());
  const roles = Array.isArray(claims.roles) ? (claims.roles as unknown[]).map(String) : [];
  if (typeof claims.sub !== 'string' || typeof claims.org !== 'string' || roles.length === 0) {
    throw new Error('The token does not name a user, an organisation and roles');
  }
  const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : undefined;
  if (exp && exp.getTime() < Date.now()) throw new Error('The token has expired');
  return { token: token.trim(), userId: claims.sub, orgId: claims.org, roles, ...(exp ? { expiresAt: exp } : {}) };
}

export function loadSession(): Session | undefined {
  const token = sessionStorage.getItem(KEY);
  if (!token) return undefined;
  try {
    return sessionOf(token);
  } catch {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
}

export function saveSession(s: Session | undefined): void {
  if (s) sessionStorage.setItem(KEY, s.token);
  else sessionStorage.removeItem(KEY);
}

export const hasRole = (s: Session, ...roles: string[]) => roles.some((r) => s.roles.includes(r));
export const isStaff = (s: Session) => hasRole(s, 'admin', 'auditor');
