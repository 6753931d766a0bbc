import { expect } from 'chai';
import { ProviderRejected, ProviderUnavailable, StripeProvider } from '../../src/integrations/stripe/provider.js';
import { FakeStripe } from '../fakes/stripe.js';

describe('The Stripe client (real stripe package, fake Stripe server)', () => {
  const fake = new FakeStripe();
  let where: { host: string; port: number; protocol: 'http' };
  before(async () => {
    where = await fake.start();
  });
  after(() => fake.stop());

  const provider = (o: Partial<ConstructorParameters<typeof StripeProvider>[0]> = {}) =>
    new StripeProvider({
      secretKey: 'sk_test_client',
      ...where,
      timeoutMs: 300,
      networkRetries: 0,
      breakerFailures: 3,
      breakerOpenMs: 300,
      ...o,
    });
  const charge = (p: StripeProvider, key: string) =>
    p.charge({
      paymentId: '99999999-9999-4999-8999-999999999999',
      chargeId: key,
      amountCents: 1_000,
      currency: 'usd',
      customer: 'cus_1',
      paymentMethod: 'pm_card_visa',
      transferGroup: 'load-1',
      idempotencyKey: key,
    });

  it('opens the circuit after repeated 5xx, sends nothing while open, and recovers', async () => {
    const p = provider();
    fake.failures = 3;
    for (let i = 0; i < 3; i++)
      expect(await charge(p, `k-open-${i}`).catch((e: unknown) => e)).to.be.instanceOf(ProviderUnavailable);
    expect(p.circuit).to.equal('open');
    const sent = fake.requests.length;
    const err = await charge(p, 'k-open-x').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProviderUnavailable);
    expect((err as ProviderUnavailable).retryInMs).to.be.within(1, 300);
    expect(fake.requests.length).to.equal(sent);
    await new Promise((r) => setTimeout(r, 320));
    expect(await charge(p, 'k-open-y')).to.include({ outcome: 'succeeded' });
    expect(p.circuit).to.equal('closed');
  });

  it('gives up on an answer that does not come, as unavailable', async () => {
    // The fake never answers it: an answer at all means the client's timeout gave up.
    fake.hangs = 1;
    expect(await charge(provider(), 'k-hang').catch((e: unknown) => e)).to.be.instanceOf(ProviderUnavailable);
  });

  it('answers a declined card as a decline, and a refused transfer as rejected, telling metrics of each', async () => {
    const seen: string[] = [];
    fake.declines = 1;
    expect(
      await charge(provider({ observe: (op, outcome) => seen.push(`${op}:${outcome}`) }), 'k-decline'),
    ).to.deep.equal({ outcome: 'declined', reason: 'insufficient_funds' });
    expect(seen).to.deep.equal(['charge:declined']);
    fake.closedAccounts.add('acct_closed');
    const err = await provider()
      .transfer({
        paymentId: 'x',
        amountCents: 10,
        currency: 'usd',
        destination: 'acct_closed',
        transferGroup: 'load-1',
        idempotencyKey: 'k-tr',
      })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProviderRejected);
  });

  it('replays the first answer for a repeated idempotency key, and refuses the key with other parameters', async () => {
    const p = provider();
    const first = await charge(p, 'k-same');
    const again = await charge(p, 'k-same');
    expect(again).to.deep.equal(first);
    const other = await p
      .charge({
        paymentId: 'x',
        chargeId: 'k-same',
        amountCents: 2_000,
        currency: 'usd',
        customer: 'cus_1',
        paymentMethod: 'pm_card_visa',
        transferGroup: 'load-1',
        idempotencyKey: 'k-same',
      })
      .catch((e: unknown) => e);
    expect(other).to.be.instanceOf(ProviderRejected);
    expect((other as Error).message).to.match(/same parameters/);
  });
});
