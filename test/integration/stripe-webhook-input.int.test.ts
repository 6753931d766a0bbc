import { expect } from 'chai';
import Stripe from 'stripe';
import { FakeStripe } from '../fakes/stripe.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';
import { testLogger } from '../support/services.js';
import { paymentIdForLoad } from '../../src/domain/payment/stream.js';

const WEBHOOK_SECRET = 'whsec_test_freight_input';
const signer = new Stripe('sk_test_signer');
const BAD_EVENT = 'urn:freight:problem:bad-webhook-event';

type Json = Record<string, unknown>;
const without = (o: Json, key: string): Json => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

/**
 * Correctly signed deliveries whose body is not a Stripe event the webhook can act on. Each is
 * about a real, charged payment where it names one, so only the check of its shape stands between
 * it and the payment's stream.
 */
describe('Receiving signed Stripe webhook deliveries that are not well-formed events', () => {
  const fake = new FakeStripe();
  let h: ApiHarness;
  let intent: Json;
  const logged: { level: 'warn' | 'error'; message: string; meta: unknown }[] = [];
  const original = { warn: testLogger.warn, error: testLogger.error };

  before(async () => {
    for (const level of ['warn', 'error'] as const) {
      testLogger[level] = ((message: unknown, meta?: unknown) => {
        logged.push({ level, message: String(message), meta });
        return testLogger;
      }) as typeof testLogger.warn;
    }
    h = await apiHarness(
      'stripe_input',
      { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_TIMEOUT_MS: '1000', STRIPE_NETWORK_RETRIES: '0' },
      { stripe: await fake.start() },
    );
    const post = (auth: string, p: string, body?: object) =>
      body ? h.http().post(p).set('Authorization', auth).send(body) : h.http().post(p).set('Authorization', auth);
    const shipper = await h.member('shipper', ['shipper']);
    const carrierOrg = await h.member('carrier', ['carrier', 'driver']);
    await post(shipper.auth, `/orgs/${shipper.orgId}/billing-account`, {
      stripeCustomerId: 'cus_Input1',
      paymentMethodId: 'pm_card_visa',
    }).expect(202);
    const carrierId = (await post(carrierOrg.auth, '/carriers', carrierBody(carrierOrg.orgId)).expect(201)).body
      .carrierId as string;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId, { rateCents: 90_000 })).expect(201)).body
      .loadId as string;
    await post(carrierOrg.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/assignment`, { driverId: carrierOrg.userId, truckId: 'T-1' }).expect(
      202,
    );
    await post(carrierOrg.auth, `/loads/${loadId}/pickup`).expect(202);
    await post(carrierOrg.auth, `/loads/${loadId}/delivery`, { signedBy: 'J. Doe' }).expect(202);
    const paymentId = paymentIdForLoad(loadId);
    const charged = async () =>
      (await h.store.readStream(`payment-${paymentId}`)).some((e) => e.type === 'ChargeSucceeded');
    expect(await until(charged, 10_000), 'the payment was charged').to.equal(true);
    await h.settle();
    intent = [...fake.paymentIntents.values()].find(
      (i) => (i.metadata as { paymentId: string }).paymentId === paymentId,
    )!;
  });
  after(async () => {
    Object.assign(testLogger, original);
    await h.close();
    await fake.stop();
  });

  let n = 0;
  const event = (type: string, object: unknown): Json => ({
    id: `evt_input_${Date.now()}_${++n}`,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    api_version: '2024-06-20',
    data: { object },
    pending_webhooks: 1,
    request: null,
  });
  const dispute = (): Json => ({
    id: `dp_input_${++n}`,
    object: 'dispute',
    amount: 20_000,
    payment_intent: intent.id,
    reason: 'fraudulent',
    status: 'needs_response',
  });
  const disputeEvent = (change: (d: Json) => Json) => event('charge.dispute.created', change(dispute()));
  const succeeded = (change: (i: Json) => Json) => event('payment_intent.succeeded', change({ ...intent }));
  // What Stripe's library checks the signature of: the body decoded leniently (bad bytes as U+FFFD).
  const deliver = (payload: string | Buffer) =>
    h
      .http()
      .post('/webhooks/stripe')
      .set('Content-Type', 'application/json')
      .set(
        'Stripe-Signature',
        signer.webhooks.generateTestHeaderString({
          payload: typeof payload === 'string' ? payload : new TextDecoder().decode(payload),
          secret: WEBHOOK_SECRET,
        }),
      )
      // The bytes as they are (superagent would send a Buffer as the JSON of its fields).
      .serialize((raw: unknown) => raw as string)
      .send(payload);
  const rows = async () =>
    Number((await h.knex('stripe_webhook_events').count<{ count: string }[]>('* as count'))[0]!.count);

  const cases: [name: string, body: () => string | Buffer, detail: RegExp][] = [
    ['{}', () => '{}', /id: .*expected string/],
    ['[]', () => '[]', /the event: .*expected object/],
    ['null', () => 'null', /the event: .*expected object/],
    ['a number', () => '42', /the event: .*expected object/],
    ['a string', () => '"evt_1"', /the event: .*expected object/],
    ['text that is not JSON', () => '{"id": "evt_1",', /not JSON/],
    [
      'bytes that are not UTF-8',
      () => Buffer.concat([Buffer.from('{"id":"evt_'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      /not valid UTF-8/,
    ],
    [
      'a surrogate encoded as UTF-8 bytes (CESU)',
      () => Buffer.concat([Buffer.from('{"id":"evt_'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      /not valid UTF-8/,
    ],
    [
      'an event with no id',
      () => JSON.stringify(without(event('customer.created', {}), 'id')),
      /id: .*expected string/,
    ],
    [
      'an event with no type',
      () => JSON.stringify(without(event('customer.created', {}), 'type')),
      /type: .*expected string/,
    ],
    [
      'an event with no created',
      () => JSON.stringify(without(event('customer.created', {}), 'created')),
      /created: .*expected number/,
    ],
    [
      'an event with no data',
      () => JSON.stringify(without(event('customer.created', {}), 'data')),
      /data: .*expected object/,
    ],
    [
      'an event with no data.object',
      () => JSON.stringify({ ...event('customer.created', {}), data: {} }),
      /data\.object: .*expected object/,
    ],
    [
      'an event whose data.object is an array',
      () => JSON.stringify(event('customer.created', [])),
      /data\.object: .*expected object/,
    ],
    [
      'an event whose id is a number',
      () => JSON.stringify({ ...event('customer.created', {}), id: 42 }),
      /id: .*expected string/,
    ],
    ['an event whose id is empty', () => JSON.stringify({ ...event('customer.created', {}), id: '' }), /id: /],
    [
      'an event whose id is 256 characters long',
      () => JSON.stringify({ ...event('customer.created', {}), id: `evt_${'x'.repeat(252)}` }),
      /id: .*255/,
    ],
    [
      'an event whose id holds a space',
      () => JSON.stringify({ ...event('customer.created', {}), id: 'evt_1 2' }),
      /id: .*printable/,
    ],
    [
      'an event whose id holds a NUL',
      () => JSON.stringify({ ...event('charge.dispute.created', dispute()), id: 'evt_\u0000' }),
      /^The signed body .*: id holds a NUL/,
    ],
    [
      'an event whose id holds a lone surrogate',
      () => JSON.stringify({ ...event('charge.dispute.created', dispute()), id: 'evt_\ud800' }),
      /: id holds .*surrogate/,
    ],
    ['an event whose type is empty', () => JSON.stringify(event('', {})), /type: /],
    [
      'an event whose created is text',
      () => JSON.stringify({ ...event('customer.created', {}), created: '1700000000' }),
      /created: .*expected number/,
    ],
    [
      'an event whose created is not whole',
      () => JSON.stringify({ ...event('customer.created', {}), created: 1.5 }),
      /created: /,
    ],
    [
      'an event whose created is past year 9999',
      () => JSON.stringify({ ...event('payment_intent.succeeded', intent), created: 1e13 }),
      /created: /,
    ],
    [
      'an unknown event holding a NUL deep inside',
      () => JSON.stringify(event('customer.created', { address: { lines: ['a', 'b\u0000'] } })),
      /data\.object\.address\.lines\.1 holds a NUL/,
    ],
    [
      'a key holding a NUL',
      () => JSON.stringify(event('customer.created', { 'na\u0000me': 'x' })),
      /data\.object\.na\?me holds a NUL/,
    ],
    ['a payment intent with no id', () => JSON.stringify(succeeded((i) => without(i, 'id'))), /data\.object\.id: /],
    [
      'a payment intent whose metadata holds a number',
      () => JSON.stringify(succeeded((i) => ({ ...i, metadata: { ...(i.metadata as Json), chargeId: 7 } }))),
      /data\.object\.metadata\.chargeId: .*expected string/,
    ],
    [
      'a payment intent whose metadata is a list',
      () => JSON.stringify(succeeded((i) => ({ ...i, metadata: ['x'] }))),
      /data\.object\.metadata: /,
    ],
    [
      'a payment intent whose metadata holds a lone surrogate',
      () => JSON.stringify(succeeded((i) => ({ ...i, metadata: { ...(i.metadata as Json), note: '\udc00' } }))),
      /data\.object\.metadata\.note holds .*surrogate/,
    ],
    [
      'a failed payment whose error code is a number',
      () => JSON.stringify(event('payment_intent.payment_failed', { ...intent, last_payment_error: { code: 402 } })),
      /data\.object\.last_payment_error\.code: /,
    ],
    ['a dispute with no id', () => JSON.stringify(disputeEvent((d) => without(d, 'id'))), /data\.object\.id: /],
    [
      'a dispute whose amount is not whole',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, amount: 1.5 }))),
      /data\.object\.amount: .*int/,
    ],
    [
      'a dispute whose amount is text',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, amount: '20000' }))),
      /data\.object\.amount: .*expected number/,
    ],
    [
      'a dispute whose amount is negative',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, amount: -1 }))),
      /data\.object\.amount: /,
    ],
    [
      'a dispute with no payment_intent',
      () => JSON.stringify(disputeEvent((d) => without(d, 'payment_intent'))),
      /data\.object\.payment_intent: Expected a payment intent id/,
    ],
    [
      'a dispute whose payment_intent has no id',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, payment_intent: { object: 'payment_intent' } }))),
      /data\.object\.payment_intent: /,
    ],
    [
      'a dispute whose payment_intent is a number',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, payment_intent: 42 }))),
      /data\.object\.payment_intent: /,
    ],
    [
      'a dispute with no status',
      () => JSON.stringify(disputeEvent((d) => without(d, 'status'))),
      /data\.object\.status: /,
    ],
    [
      'a dispute with no reason',
      () => JSON.stringify(disputeEvent((d) => without(d, 'reason'))),
      /data\.object\.reason: /,
    ],
    [
      'a dispute whose reason is empty',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, reason: '' }))),
      /data\.object\.reason: /,
    ],
    [
      'a dispute whose id holds a NUL',
      () => JSON.stringify(disputeEvent((d) => ({ ...d, id: 'dp_\u0000' }))),
      /data\.object\.id holds a NUL/,
    ],
    [
      'a closed dispute whose status is a number',
      () => JSON.stringify(event('charge.dispute.closed', { ...dispute(), status: 3 })),
      /data\.object\.status: /,
    ],
  ];

  for (const [name, body, detail] of cases) {
    it(`refuses ${name} with a 400, storing and appending nothing`, async () => {
      const [head, count] = [await h.committed(), await rows()];
      logged.length = 0;
      const r = await deliver(body()).expect(400);
      expect(r.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(r.body).to.include({ type: BAD_EVENT, status: 400 });
      expect(r.body.detail).to.match(detail);
      expect(await rows(), 'rows in stripe_webhook_events').to.equal(count);
      expect(await h.committed(), 'the events committed').to.deep.equal(head);
      expect(
        logged.filter((l) => l.level === 'error'),
        'errors logged',
      ).to.deep.equal([]);
      expect(logged.filter((l) => l.level === 'warn').map((l) => l.message)).to.deep.equal([
        'stripe webhook refused: malformed event',
      ]);
    });
  }

  it('still answers an unsigned malformed body as a bad signature', async () => {
    const r = await h.http().post('/webhooks/stripe').set('Content-Type', 'application/json').send('{}').expect(400);
    expect(r.body.type).to.equal('urn:freight:problem:bad-signature');
  });

  it('accepts and ignores an unknown type, however deep its object, and an id of 255 characters', async () => {
    const nested = `{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const deep = JSON.stringify(event('customer.updated', {})).replace(
      '"data":{"object":{}}',
      `"data":{"object":${nested}}`,
    );
    expect((await deliver(deep).expect(200)).body).to.include({ outcome: 'ignored' });
    const id = `evt_${'x'.repeat(251)}`;
    expect(
      (await deliver(JSON.stringify({ ...event('customer.created', { name: 'Gulf 🚚 Freight' }), id })).expect(200))
        .body,
    ).to.include({ outcome: 'ignored' });
    expect(await h.knex('stripe_webhook_events').where({ event_id: id })).to.have.length(1);
  });

  it('ignores a payment intent that is not one of ours, and keeps answering 503 for a dispute about an unknown charge', async () => {
    const head = await h.committed();
    const foreign = { ...intent, id: 'pi_elsewhere', metadata: { paymentId: 'order-17', chargeId: 'c-1' } };
    expect((await deliver(JSON.stringify(event('payment_intent.succeeded', foreign))).expect(200)).body).to.include({
      outcome: 'ignored',
    });
    expect(
      (await deliver(JSON.stringify(event('payment_intent.succeeded', { ...intent, metadata: {} }))).expect(200)).body,
    ).to.include({ outcome: 'ignored' });
    await deliver(
      JSON.stringify(event('charge.dispute.created', { ...dispute(), payment_intent: { id: 'pi_never_seen' } })),
    ).expect(503);
    expect(await h.committed()).to.deep.equal(head);
  });
});
