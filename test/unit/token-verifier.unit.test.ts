import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Unauthorized } from '../../src/auth/errors.js';
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
    for (let i = 0; i < 2; i++) expect(await verifier.verify(tampered).catch((e: unknown) => e)).to.be.instanceOf(Unauthorized);
    // A verifier with another key refuses it: nothing is shared between verifiers.
    const other = new TokenVerifier({ ...settings, secret: 'another-secret-of-enough-length-11111' }, () => now);
    expect(await other.verify(token).catch((e: unknown) => e)).to.be.instanceOf(Unauthorized);
    expect(checks).to.equal(3);
    now += 61_000;
    expect(await verifier.verify(token)).to.deep.equal(principal);
    expect(checks).to.equal(4);
  });
});
