import type { Actor } from '../domain/shared/actor.js';
import { Unauthorized } from './errors.js';
import type { ActivePrincipals } from './principals.js';
import type { TokenVerifier } from './tokens.js';

/** Bearer token → verified principal → actor still active in the log. Shared by HTTP and Socket.IO. */
export class Authenticator {
  constructor(
    private readonly tokens: TokenVerifier,
    private readonly principals: ActivePrincipals,
  ) {}

  async fromAuthorizationHeader(header: string | undefined): Promise<Actor> {
    if (!header) throw new Unauthorized('A bearer token is required (Authorization: Bearer <token>)');
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
    if (!m) throw new Unauthorized('The Authorization header must be "Bearer <token>"');
    return this.fromToken(m[1]!);
  }

  async fromToken(token: string): Promise<Actor> {
    return this.principals.actorFor(await this.tokens.verify(token));
  }
}
