import { expect } from 'chai';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { loadBody } from '../support/loads.js';

type Page = { items: { loadId: string; rateCents: number }[] };

/**
 * The board's shared pages: an answer that does not depend on who asks (a board role asking for
 * posted loads) is shared until the load board's projector commits again. The entries' age bound is
 * a minute here, so only the projector's moves can end them.
 */
describe('The load board shares pages until the board changes', () => {
  let h: ApiHarness;
  let shipper: { orgId: string; auth: string };
  let carrier: { orgId: string; auth: string };
  let otherCarrier: { orgId: string; auth: string };

  const board = async (auth: string, query: Record<string, string> = {}) =>
    (await h.http().get('/loads').query(query).set('Authorization', auth).expect(200)).body as Page;
  const rateOf = (page: Page, loadId: string) => page.items.find((i) => i.loadId === loadId)?.rateCents;
  const post = async (rateCents: number) => {
    const res = await h
      .http()
      .post('/loads')
      .set('Authorization', shipper.auth)
      .send(loadBody(shipper.orgId, { rateCents }))
      .expect(201);
    return res.body as { loadId: string; position: string };
  };
  /** Changes a row behind the projector's back: what a shared page cannot know of. */
  const edit = (loadId: string, rateCents: number) =>
    h.knex('load_board').where('load_id', loadId).update({ rate_cents: rateCents });

  before(async () => {
    h = await apiHarness('board_pages', { BOARD_CACHE_MS: '60000' });
    shipper = await h.member('shipper', ['shipper']);
    carrier = await h.member('carrier', ['carrier']);
    otherCarrier = await h.member('carrier', ['carrier']);
  });
  after(async () => {
    await h.close();
  });

  it('serves carriers one shared page, ends it when the projector commits, and never shares an answer that depends on the caller', async () => {
    const first = await post(150_000);
    // Read-your-writes reads the rows: the load is there.
    expect(rateOf(await board(carrier.auth, { minPosition: first.position }), first.loadId)).to.equal(150_000);
    expect(rateOf(await board(carrier.auth), first.loadId)).to.equal(150_000);

    await edit(first.loadId, 111_111);
    // The shared page, for this carrier and for another organisation's: the row's edit is not read.
    expect(rateOf(await board(carrier.auth), first.loadId)).to.equal(150_000);
    expect(rateOf(await board(otherCarrier.auth), first.loadId)).to.equal(150_000);
    // An answer that depends on the caller reads the rows: the shipper's own loads, other statuses.
    expect(rateOf(await board(shipper.auth), first.loadId)).to.equal(111_111);
    expect(rateOf(await board(carrier.auth, { status: 'posted,booked' }), first.loadId)).to.equal(111_111);
    // So does a read that waits for a position.
    expect(rateOf(await board(carrier.auth, { minPosition: first.position }), first.loadId)).to.equal(111_111);

    // A new load: once the projector has committed it, the next plain read is a fresh page, at once
    // (the entry's age bound is a minute).
    const second = await post(160_000);
    await board(carrier.auth, { minPosition: second.position });
    const after = await board(carrier.auth);
    expect(rateOf(after, second.loadId)).to.equal(160_000);
    expect(rateOf(after, first.loadId)).to.equal(111_111);
  });
});
