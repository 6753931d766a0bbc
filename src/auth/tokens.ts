import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { ROLES, type Role } from '../domain/shared/actor.js';
import { Unauthorized } from './errors.js';

/** Who a verified token says the caller is. Whether they are still active is checked separately. */
export interface Principal {
  readonly userId: string;
  readonly orgId: string;
  readonly roles: readonly Role[];
}

export interface TokenSettings {
  /** HS256 shared secret. */
  secret?: string;
  /** An identity provider's key set (RS256/ES256/EdDSA tokens). */
  jwksUrl?: string;
  issuer: string;
  audience: string;
  /** Longest lifetime a token may claim (default 24 h): from its `iat`, and from now, to its `exp`. */
  maxLifetimeSeconds?: number;
}

const claims = z.object({
  sub: z.uuid(),
  org: z.uuid(),
  roles: z.array(z.enum(ROLES)).min(1),
});

const ALGORITHMS_BY_KEY = { secret: ['HS256'], jwks: ['RS256', 'PS256', 'ES256', 'EdDSA'] };

/** Verified tokens remembered, at most (each for at most `VERIFIED_TTL_MS`). */
const VERIFIED_MAX = 10_000;
const VERIFIED_TTL_MS = 60_000;
const CLOCK_TOLERANCE_S = 5;
const DEFAULT_MAX_LIFETIME_S = 24 * 3600;

/**
 * Verifies bearer tokens. A token verified once is remembered for up to a minute (bounded, oldest
 * forgotten first), so a client's every request does not pay the signature check again (it was
 * 6% of the CPU of a `POST /loads`); its expiry is still checked on each use, and a key withdrawn
 * from the JWKS stops being honoured within the minute. Failures are never remembered.
 */
export class TokenVerifier {
  private readonly verifyJwt: (token: string) => Promise<{ payload: JWTPayload }>;
  private readonly verified = new Map<string, { principal: Principal; expMs: number; until: number }>();
  private readonly maxLifetimeS: number;

  /** `now` is for tests that move the clock. */
  constructor(
    settings: TokenSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.maxLifetimeS = settings.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_S;
    const opts = (algorithms: string[]) => ({
      issuer: settings.issuer,
      audience: settings.audience,
      algorithms,
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(this.now()),
    });
    if (settings.jwksUrl) {
      const keys = createRemoteJWKSet(new URL(settings.jwksUrl), {
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      });
      this.verifyJwt = (token) => jwtVerify(token, keys, opts(ALGORITHMS_BY_KEY.jwks));
    } else if (settings.secret) {
      const secret = new TextEncoder().encode(settings.secret);
      this.verifyJwt = (token) => jwtVerify(token, secret, opts(ALGORITHMS_BY_KEY.secret));
    } else {
      throw new Error('TokenVerifier needs a secret or a JWKS URL');
    }
  }

  /** Signature, expiry, issuer, audience, then our claims (sub, org, roles). */
  async verify(token: string): Promise<Principal> {
    const now = this.now();
    const known = this.verified.get(token);
    if (known && now < known.until) {
      if (now > known.expMs + CLOCK_TOLERANCE_S * 1000) {
        this.verified.delete(token);
        throw new Unauthorized('The token has expired');
      }
      return known.principal;
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await this.verifyJwt(token));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new Unauthorized('The token has expired');
      if (err instanceof errors.JOSEError) throw new Unauthorized(`The token is not valid (${err.code})`);
      throw err;
    }
    this.checkLifetime(payload, now);
    const parsed = claims.safeParse(payload);
    if (!parsed.success) throw new Unauthorized('The token lacks the sub, org or roles claims');
    const principal: Principal = { userId: parsed.data.sub, orgId: parsed.data.org, roles: parsed.data.roles };
    if (known) this.verified.delete(token);
    else if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, expMs: payload.exp! * 1000, until: now + VERIFIED_TTL_MS });
    return principal;
  }

  /**
   * A token must end, and soon: one without `exp`, or one claiming to live longer than the
   * configured lifetime (from when it was issued, or from now when that is later or unsaid), is
   * refused, so a leaked token is worth a day at most, not forever.
   */
  private checkLifetime(payload: JWTPayload, nowMs: number): void {
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp))
      throw new Unauthorized('The token has no expiry (exp)');
    const now = nowMs / 1000;
    if (payload.iat !== undefined && (typeof payload.iat !== 'number' || payload.iat > now + CLOCK_TOLERANCE_S)) {
      throw new Unauthorized('The token is issued in the future (iat)');
    }
    const lifetime = typeof payload.iat === 'number' ? payload.exp - payload.iat : 0;
    if (Math.max(payload.exp - now, lifetime) > this.maxLifetimeS + CLOCK_TOLERANCE_S) {
      throw new Unauthorized(`The token lives longer than the ${this.maxLifetimeS} s allowed (exp − iat)`);
    }
  }
}

/** Mints an HS256 token (development, tests and the `npm run token` CLI). */
export async function mintToken(
  settings: Pick<TokenSettings, 'issuer' | 'audience'> & { secret: string },
  principal: Principal,
  expiresIn: string | number = '12h',
): Promise<string> {
  return new SignJWT({ org: principal.orgId, roles: [...principal.roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(principal.userId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(settings.secret));
}
