import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { handle } from '../../src/application/handle.js';
import { decide, evolve, initialState } from '../../src/domain/load/decider.js';
import { loadEvents } from '../../src/domain/load/events.js';
import * as organisation from '../../src/domain/organisation/decider.js';
import { organisationEvents } from '../../src/domain/organisation/events.js';
import { IllegalTransition } from '../../src/domain/shared/errors.js';
import { WrongExpectedVersion } from '../../src/eventstore/errors.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/store.js';
import {
  admin,
  carrierUser,
  cmd,
  details,
  goodCarrier,
  LOAD_ID,
  NOW,
  OTHER_CARRIER_ID,
  shipper,
  bidId,
} from '../unit/domain/load-fixtures.js';
import { freshDatabase } from '../support/services.js';

const load = { decide, evolve, initialState };

describe('Handling a command against its stream', () => {
  let store: PostgresEventStore;
  let url: string;
  const deps = () => ({ store, registry: loadEvents });
  const post = (loadId: string) => cmd('PostLoad', { ...details, loadId });

  before(async () => {
    url = await freshDatabase('handler');
    store = new PostgresEventStore({ databaseUrl: url });
  });
  after(() => store.close());

  it('appends the decided events with their schema version and metadata', async () => {
    const stream = `load-${randomUUID()}`;
    const r = await handle(deps(), stream, load, post(LOAD_ID), {
      metadata: { correlationId: 'corr-9', actor: shipper.userId },
    });
    expect(r.revision).to.equal(0n);
    expect(r.position).to.not.equal(undefined);
    expect(r.replayed).to.equal(false);
    const [stored] = await store.readStream(stream);
    expect(stored!.type).to.equal('LoadPosted');
    expect(stored!.metadata).to.include({ correlationId: 'corr-9', actor: 'u-shipper', schemaVersion: 1 });
    // Stored in its JSON form: dates as ISO text, decoded back by the registry.
    const data = stored!.data as { loadId: string; pickupWindow: { from: string }; postedAt: string };
    expect(data.loadId).to.equal(LOAD_ID);
    expect(data.pickupWindow.from).to.equal(details.pickupWindow.from.toISOString());
    expect(loadEvents.decode(stored!)).to.deep.include({ pickupWindow: details.pickupWindow });
  });

  it('appends nothing when the decision is empty', async () => {
    const stream = `load-${randomUUID()}`;
    await handle(deps(), stream, load, post(LOAD_ID));
    const r = await handle(deps(), stream, load, cmd('ReviseLoad', { rateCents: details.rateCents }));
    expect(r).to.include({ revision: 0n, replayed: false });
    expect(r.events).to.deep.equal([]);
    expect(await store.readStream(stream)).to.have.length(1);
  });

  it('answers a retried command from the stream and appends nothing new', async () => {
    const stream = `load-${randomUUID()}`;
    const key = randomUUID();
    const first = await handle(deps(), stream, load, post(LOAD_ID), { idempotencyKey: key });
    const again = await handle(deps(), stream, load, post(LOAD_ID), { idempotencyKey: key });
    expect(again.replayed).to.equal(true);
    expect(again.revision).to.equal(first.revision);
    expect(again.position).to.deep.equal(first.position);
    expect(again.events.map((e) => e.type)).to.deep.equal(['LoadPosted']);
    expect(await store.readStream(stream)).to.have.length(1);
    // A different key is a different command: posting twice is refused.
    let err: unknown;
    await handle(deps(), stream, load, post(LOAD_ID), { idempotencyKey: randomUUID() }).catch(
      (e: unknown) => (err = e),
    );
    expect(err).to.be.instanceOf(IllegalTransition);
  });

  it('honours If-Match: a stale revision is a conflict carrying the current one, and nothing is appended', async () => {
    const stream = `load-${randomUUID()}`;
    await handle(deps(), stream, load, post(LOAD_ID));
    await handle(deps(), stream, load, cmd('ReviseLoad', { rateCents: 160_000 }));
    let err: unknown;
    await handle(deps(), stream, load, cmd('ReviseLoad', { rateCents: 170_000 }), { expectedRevision: 0n }).catch(
      (e: unknown) => (err = e),
    );
    expect(err).to.be.instanceOf(WrongExpectedVersion);
    expect((err as WrongExpectedVersion).actual).to.equal(1n);
    expect(await store.readStream(stream)).to.have.length(2);
    const ok = await handle(deps(), stream, load, cmd('ReviseLoad', { rateCents: 170_000 }), { expectedRevision: 1n });
    expect(ok.revision).to.equal(2n);
  });

  it('decides again after losing a race: one carrier books, the other is told the load is booked', async () => {
    const stream = `load-${randomUUID()}`;
    await handle(deps(), stream, load, post(LOAD_ID));
    const other = { ...goodCarrier, carrierId: OTHER_CARRIER_ID };
    const results = await Promise.allSettled([
      handle(deps(), stream, load, cmd('BookNow', { carrier: goodCarrier }, carrierUser)),
      handle(deps(), stream, load, cmd('BookNow', { carrier: other }, carrierUser)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).to.be.instanceOf(IllegalTransition);
    expect(String(lost.reason)).to.match(/is booked/);
    expect((await store.readStream(stream)).map((e) => e.type)).to.deep.equal(['LoadPosted', 'LoadBooked']);
  });

  it('lets concurrent commands that do not clash both succeed', async () => {
    const stream = `load-${randomUUID()}`;
    await handle(deps(), stream, load, post(LOAD_ID));
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        handle(
          deps(),
          stream,
          load,
          cmd('PlaceBid', { bidId: bidId(n), carrier: goodCarrier, amountCents: 140_000 + n }, carrierUser),
        ),
      ),
    );
    const events = await store.readStream(stream);
    expect(events.map((e) => e.type)).to.deep.equal(['LoadPosted', 'BidPlaced', 'BidPlaced', 'BidPlaced', 'BidPlaced']);
  });

  it('lets many writers on one stream take turns: 24 users added to one organisation at once all land', async () => {
    const orgId = randomUUID();
    const stream = `organisation-${orgId}`;
    const org = { decide: organisation.decide, evolve: organisation.evolve, initialState: organisation.initialState };
    const deps = { store, registry: organisationEvents };
    const metadata = { now: NOW, actor: admin };
    await handle(deps, stream, org, {
      type: 'RegisterOrganisation',
      data: { orgId, name: 'Gulf Haulers', kind: 'carrier' },
      metadata,
    });
    const users = Array.from({ length: 24 }, () => randomUUID());
    await Promise.all(
      users.map((userId, i) =>
        handle(deps, stream, org, {
          type: 'AddUser',
          data: { userId, email: `d${i}@gulf.example`, name: `Driver ${i}`, roles: ['driver'] },
          metadata,
        }),
      ),
    );
    const added = (await store.readStream(stream))
      .filter((e) => e.type === 'UserAdded')
      .map((e) => (e.data as { userId: string }).userId);
    expect(added).to.have.members(users);
  });

  describe('folding on from the state this process saw last', () => {
    /** A store that counts the events its stream reads return. */
    const counting = (inner: PostgresEventStore) => {
      const seen = { events: 0, reads: 0 };
      const wrapped = Object.create(inner) as PostgresEventStore;
      wrapped.readStream = async (...args: Parameters<PostgresEventStore['readStream']>) => {
        const r = await inner.readStream(...args);
        seen.reads++;
        seen.events += r.length;
        return r;
      };
      return { store: wrapped, seen };
    };

    it('reads only the events appended since, not the whole stream, on each command', async () => {
      const { store: s, seen } = counting(store);
      const stream = `load-${randomUUID()}`;
      await handle({ store: s, registry: loadEvents }, stream, load, post(LOAD_ID));
      for (let n = 1; n <= 5; n++)
        await handle(
          { store: s, registry: loadEvents },
          stream,
          load,
          cmd('PlaceBid', { bidId: bidId(n), carrier: goodCarrier, amountCents: 140_000 + n }, carrierUser),
        );
      await handle({ store: s, registry: loadEvents }, stream, load, cmd('ReviseLoad', { rateCents: 151_000 }));
      expect(seen.reads).to.equal(7);
      // Each read found nothing new: this process wrote every event itself.
      expect(seen.events).to.equal(0);
      expect(await store.readStream(stream)).to.have.length(7);
    });

    it('sees what another process appended meanwhile, and decides on it', async () => {
      const other = new PostgresEventStore({ databaseUrl: url });
      try {
        const stream = `load-${randomUUID()}`;
        await handle(deps(), stream, load, post(LOAD_ID));
        // Another process (its own store, its own cache) books the load.
        await handle(
          { store: other, registry: loadEvents },
          stream,
          load,
          cmd('BookNow', { carrier: goodCarrier }, carrierUser),
        );
        let err: unknown;
        await handle(
          deps(),
          stream,
          load,
          cmd('BookNow', { carrier: { ...goodCarrier, carrierId: OTHER_CARRIER_ID } }, carrierUser),
        ).catch((e: unknown) => (err = e));
        expect(String(err)).to.match(/is booked/);
        // A command the other process applied, retried here with its key, is recognised from the events read since.
        const second = `load-${randomUUID()}`;
        await handle(deps(), second, load, post(LOAD_ID));
        const key = randomUUID();
        const bid = cmd('PlaceBid', { bidId: bidId(1), carrier: goodCarrier, amountCents: 141_000 }, carrierUser);
        const first = await handle({ store: other, registry: loadEvents }, second, load, bid, { idempotencyKey: key });
        const again = await handle(deps(), second, load, bid, { idempotencyKey: key });
        expect(again).to.include({ replayed: true, revision: first.revision });
        expect(await store.readStream(second)).to.have.length(2);
      } finally {
        await other.close();
      }
    });

    it('keeps states frozen in tests, so a decider that changed the state it was given would fail here', async () => {
      const stream = `load-${randomUUID()}`;
      await handle(deps(), stream, load, post(LOAD_ID));
      const mutating = {
        ...load,
        decide: (c: Parameters<typeof decide>[0], s: Parameters<typeof decide>[1]) => {
          (s as { status: string }).status = 'cancelled';
          return decide(c, s);
        },
      };
      let err: unknown;
      await handle(deps(), stream, mutating, cmd('ReviseLoad', { rateCents: 150_500 })).catch(
        (e: unknown) => (err = e),
      );
      expect(err).to.be.instanceOf(TypeError);
    });
  });
});
