import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Unauthorized } from '../../src/auth/errors.js';
import { SignJWT } from 'jose';
import { mintToken, TokenVerifier } from '../../src/auth/tokens.js';

const settings = { secret: 'a-test-secret-of-enough-length-000000', issuer: 'freight-test', audience: 'freight-api' };
const principal = { userId: randomUUID(), orgId: randomUUID(), roles: ['shipper' as const] };

describe('TokenVerifier', () => {
  it('remembers a verified token, but still refuses it once it has expired', async () => {
    let now = Date.now();
    const verifier = new TokenVerifier(settings, () => now);
    const token = await mintToken(settings, principal, '30s');
    expect(await verifier.verify(token)).to.deep.equal(principal);
    now += 20_000;
    expect(await verifier.verify(token)).to.deep.equal(principal);
    // Past its expiry (and the 5 s of clock tolerance), though within the minute it is remembered.
    now += 20_000;
    const err = await verifier.verify(token).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Unauthorized);
    expect((err as Error).message).to.equal('The token has expired');
  });

  it('checks the signature again after a minute, and never remembers a refusal', async () => {
    let now = Date.now();
    const verifier = new TokenVerifier(settings, () => now);
    const token = await mintToken(settings, principal, '1h');
    const inner = verifier as unknown as { verifyJwt: (t: string) => Promise<unknown> };
    const check = inner.verifyJwt;
    let checks = 0;
    inner.verifyJwt = (t) => (checks++, check(t));
    await verifier.verify(token);
    await verifier.verify(token);
    expect(checks).to.equal(1);
    // A tampered token is refused every time, remembered or not.
    const [h, p, sig] = token.split('.');
    const tampered = `${h}.${p}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
    for (let i = 0; i < 2; i++)
      expect(await verifier.verify(tampered).catch((e: unknown) => e)).to.be.instanceOf(Unauthorized);
    // A verifier with another key refuses it: nothing is shared between verifiers.
    const other = new TokenVerifier({ ...settings, secret: 'another-secret-of-enough-length-11111' }, () => now);
    expect(await other.verify(token).catch((e: unknown) => e)).to.be.instanceOf(Unauthorized);
    expect(checks).to.equal(3);
    now += 61_000;
    expect(await verifier.verify(token)).to.deep.equal(principal);
    expect(checks).to.equal(4);
  });

  describe('lifetime', () => {
    const sign = (claims: { iat?: number; exp?: number }) => {
      const jwt = new SignJWT({ org: principal.orgId, roles: [...principal.roles] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(principal.userId)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience);
      if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
      if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
      return jwt.sign(new TextEncoder().encode(settings.secret));
    };
    const refusal = async (verifier: TokenVerifier, token: string) => {
      const err = await verifier.verify(token).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Unauthorized);
      return (err as Error).message;
    };
    const now = Math.floor(Date.now() / 1000);

    it('refuses a token that never expires', async () => {
      expect(await refusal(new TokenVerifier(settings), await sign({ iat: now }))).to.equal(
        'The token has no expiry (exp)',
      );
      expect(await refusal(new TokenVerifier(settings), await sign({}))).to.equal('The token has no expiry (exp)');
    });

    it('refuses a token that lives longer than allowed (24 h by default), however its iat is set', async () => {
      const verifier = new TokenVerifier(settings);
      const hundredYears = await sign({ iat: now, exp: now + 100 * 365 * 86_400 });
      expect(await refusal(verifier, hundredYears)).to.match(/lives longer than the 86400 s allowed/);
      // No iat: the lifetime counts from now.
      expect(await refusal(verifier, await sign({ exp: now + 2 * 86_400 }))).to.match(/lives longer/);
      // Issued long ago, expiring soon: its lifetime is still too long.
      expect(await refusal(verifier, await sign({ iat: now - 3 * 86_400, exp: now + 3600 }))).to.match(/lives longer/);
      expect(await refusal(verifier, await sign({ iat: now + 3600, exp: now + 7200 }))).to.equal(
        'The token is issued in the future (iat)',
      );
      expect(await verifier.verify(await sign({ iat: now, exp: now + 86_400 }))).to.deep.equal(principal);
      expect(await verifier.verify(await mintToken(settings, principal))).to.deep.equal(principal);
    });

    it('takes the longest lifetime from its settings', async () => {
      const strict = new TokenVerifier({ ...settings, maxLifetimeSeconds: 900 });
      expect(await refusal(strict, await mintToken(settings, principal, '1h'))).to.match(
        /lives longer than the 900 s allowed/,
      );
      expect(await strict.verify(await mintToken(settings, principal, '15m'))).to.deep.equal(principal);
    });
  });
});
