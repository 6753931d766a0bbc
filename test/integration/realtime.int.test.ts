import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { io as connect, type Socket } from 'socket.io-client';
import { comparePositions, parsePosition } from '../../src/eventstore/position.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { until } from '../support/async.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';

type Member = { orgId: string; userId: string; auth: string };
type Msg = {
  position: string;
  loadId: string;
  status: string;
  correlationId?: string;
  load?: { rateCents: number; booking: unknown };
  removed?: boolean;
  fix?: { lat: number };
};

describe('Socket.IO dashboards', () => {
  let h: ApiHarness;
  let shipper: Member;
  let stranger: Member;
  let carrier: Member;
  let carrierId: string;
  const sockets: Socket[] = [];

  const token = (m: Member) => m.auth.slice('Bearer '.length);
  /** A connected dashboard that records every message it hears. */
  async function dashboard(auth: { token?: string } = {}): Promise<Socket & { heard: { event: string; msg: Msg }[] }> {
    const socket = connect(h.baseUrl!, {
      transports: ['websocket'],
      auth,
      reconnection: false,
      forceNew: true,
    }) as Socket & { heard: { event: string; msg: Msg }[] };
    sockets.push(socket);
    socket.heard = [];
    socket.onAny((event: string, msg: Msg) => socket.heard.push({ event, msg }));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => reject(err));
    });
    return socket;
  }
  const subscribe = (s: Socket, req: object) =>
    s.timeout(5_000).emitWithAck('subscribe', req) as Promise<{
      ok: boolean;
      type?: string;
      rooms?: string[];
      resumed?: number;
    }>;
  const post = (auth: string, path: string, body?: object) => {
    const r = h.http().post(path).set('Authorization', auth);
    return body ? r.send(body) : r;
  };
  const heardOf = (s: { heard: { event: string; msg: Msg }[] }, loadId: string, event = 'load') =>
    s.heard.filter((x) => x.event === event && x.msg.loadId === loadId).map((x) => x.msg);

  const LOCATION_INTERVAL_MS = 400;

  before(async () => {
    h = await apiHarness(
      'realtime',
      { REALTIME_LOCATION_INTERVAL_MS: String(LOCATION_INTERVAL_MS), REALTIME_RECHECK_MS: '200' },
      { listen: true },
    );
    shipper = await h.member('shipper', ['shipper']);
    stranger = await h.member('shipper', ['shipper']);
    carrier = await h.member('carrier', ['carrier', 'driver']);
    carrierId = (await post(carrier.auth, '/carriers', carrierBody(carrier.orgId)).expect(201)).body.carrierId;
    await post(h.admin, `/carriers/${carrierId}/verifications`, goodVerification()).expect(202);
    await h.settle();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  after(() => h.close());

  it('refuses a handshake without a valid token', async () => {
    for (const auth of [{}, { token: 'not-a-jwt' }, { token: token(shipper).slice(0, -3) + 'abc' }]) {
      const err = await dashboard(auth).then(
        () => undefined,
        (e: Error & { data?: { type: string } }) => e,
      );
      expect(err, JSON.stringify(auth)).to.be.instanceOf(Error);
      expect(err!.data?.type).to.equal('urn:freight:problem:unauthorized');
    }
  });

  it('lets a client join only the rooms it may see', async () => {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await h.settle();
    const own = await dashboard({ token: token(shipper) });
    expect(await subscribe(own, { room: `load:${loadId}` })).to.include({ ok: true });
    expect(await subscribe(own, { room: `org:${shipper.orgId}` })).to.include({ ok: true });
    expect(await subscribe(own, { room: 'loadboard' })).to.include({
      ok: false,
      type: 'urn:freight:problem:forbidden',
    });
    const other = await dashboard({ token: token(stranger) });
    expect(await subscribe(other, { room: `load:${loadId}` })).to.include({
      ok: false,
      type: 'urn:freight:problem:forbidden',
    });
    expect(await subscribe(other, { room: `tracking:${loadId}` })).to.include({
      ok: false,
      type: 'urn:freight:problem:forbidden',
    });
    expect(await subscribe(other, { room: `org:${shipper.orgId}` })).to.include({
      ok: false,
      type: 'urn:freight:problem:forbidden',
    });
    expect(await subscribe(other, { room: 'load:not-a-uuid' })).to.include({
      ok: false,
      type: 'urn:freight:problem:validation',
    });
    expect(await subscribe(other, { room: 'everything' })).to.include({
      ok: false,
      type: 'urn:freight:problem:validation',
    });
    expect(await subscribe(other, { room: 'loadboard', since: 'yesterday' })).to.include({
      ok: false,
      type: 'urn:freight:problem:validation',
    });
    const staff = await dashboard({ token: h.admin.slice('Bearer '.length) });
    expect(await subscribe(staff, { room: `load:${loadId}` })).to.include({ ok: true });
  });

  it('tells the board of new loads after the read model has them, narrowed by state and equipment', async () => {
    const all = await dashboard({ token: token(carrier) });
    const readableWhenHeard = new Map<string, boolean>();
    all.on('load', (m: Msg) => {
      void h
        .knex('load_board')
        .where('load_id', m.loadId)
        .first('load_id')
        .then((row) => readableWhenHeard.set(m.loadId, Boolean(row)));
    });
    const narrow = await dashboard({ token: token(carrier) });
    expect(await subscribe(all, { room: 'loadboard' })).to.include({ ok: true });
    expect(await subscribe(narrow, { room: 'loadboard', states: ['TX'], equipment: ['flatbed'] })).to.deep.include({
      ok: true,
      rooms: ['lb:TX:flatbed'],
    });
    const tx = (
      await post(shipper.auth, '/loads', loadBody(shipper.orgId)).set('X-Correlation-Id', 'corr-board-1').expect(201)
    ).body.loadId;
    const van = (await post(shipper.auth, '/loads', loadBody(shipper.orgId, { equipmentType: 'dry_van' })).expect(201))
      .body.loadId;
    expect(await until(() => heardOf(all, tx).length > 0 && heardOf(all, van).length > 0, 10_000)).to.equal(true);
    expect(await until(() => heardOf(narrow, tx).length > 0, 5_000)).to.equal(true);
    // Heard means readable: when the message arrived, the read model already had the load.
    expect(readableWhenHeard.get(tx)).to.equal(true);
    const [msg] = heardOf(all, tx);
    expect(msg).to.include({ status: 'posted', loadId: tx, correlationId: 'corr-board-1' });
    expect(msg!.position).to.match(/^\d+\/\d+$/);
    expect(msg!.load).to.include({ rateCents: 180_000 });
    await h.http().get(`/loads/${tx}`).set('Authorization', carrier.auth).expect(200);
    expect(heardOf(narrow, van)).to.deep.equal([]);
  });

  it('disconnects an open dashboard once its user is deactivated, its organisation suspended, or its token expired', async () => {
    const member = await h.member('carrier', ['carrier']);
    const suspended = await h.member('carrier', ['carrier']);
    const expiring = await h.token(
      { userId: carrier.userId, orgId: carrier.orgId, roles: ['carrier'] },
      Math.floor(Date.now() / 1000) + 6,
    );
    const sockets = {
      deactivated: await dashboard({ token: token(member) }),
      suspended: await dashboard({ token: token(suspended) }),
      expired: await dashboard({ token: expiring }),
    };
    for (const s of Object.values(sockets)) expect((await subscribe(s, { room: 'loadboard' })).ok).to.equal(true);
    const revoked = new Map<Socket, { type: string; detail: string }>();
    for (const s of Object.values(sockets))
      s.on('revoked', (why: { type: string; detail: string }) => revoked.set(s, why));
    await post(h.admin, `/orgs/${member.orgId}/users/${member.userId}/deactivate`).expect(202);
    await post(h.admin, `/orgs/${suspended.orgId}/suspend`, { reason: 'fraud' }).expect(202);
    await h.settle();
    expect(
      await until(() => Object.values(sockets).every((s) => s.disconnected), 60_000),
      'all three were disconnected',
    ).to.equal(true);
    expect(revoked.get(sockets.deactivated)).to.include({
      type: 'urn:freight:problem:unauthorized',
      detail: 'The user has been deactivated',
    });
    expect(revoked.get(sockets.suspended)?.type).to.equal('urn:freight:problem:forbidden');
    expect(revoked.get(sockets.expired)).to.include({ detail: 'The token has expired' });
    // Nothing posted afterwards reaches them.
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await h.settle();
    for (const s of Object.values(sockets)) expect(heardOf(s, loadId)).to.deep.equal([]);
  });

  it('tells the board only that a booked load left it, and its parties everything', async () => {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await h.settle();
    const board = await dashboard({ token: token(carrier) });
    const party = await dashboard({ token: token(shipper) });
    await subscribe(board, { room: 'loadboard' });
    await subscribe(party, { room: `load:${loadId}` });
    await post(carrier.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    expect(await until(() => heardOf(board, loadId).length > 0 && heardOf(party, loadId).length > 0, 10_000)).to.equal(
      true,
    );
    const [left] = heardOf(board, loadId);
    // Only that it left: not its status, nor the id of the command that booked it.
    expect(left).to.deep.equal({ position: left!.position, loadId, removed: true });
    expect(heardOf(party, loadId)[0]!.load).to.have.property('booking').that.is.an('object');
  });

  it('streams locations to the tracking room at most once per interval, ending on the newest', async () => {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await post(carrier.auth, `/loads/${loadId}/book`, { carrierId }).expect(202);
    await post(carrier.auth, `/loads/${loadId}/assignment`, { driverId: carrier.userId, truckId: 'RT-1' }).expect(202);
    await h.settle();
    const watcher = await dashboard({ token: token(shipper) });
    expect(await subscribe(watcher, { room: `tracking:${loadId}` })).to.include({ ok: true });
    const sent: number[] = [];
    // Every message is sent after the first ping is posted and before the last one is heard.
    const from = Date.now();
    for (let i = 0; i < 6; i++) {
      const lat = 30 + i / 100;
      sent.push(lat);
      const recordedAt = new Date(Date.now() - (10 - i) * 1_000).toISOString();
      await post(carrier.auth, '/tracking/pings', {
        loadId,
        pings: [{ id: randomUUID(), lat, lng: -95.4, speedMph: 50, recordedAt }],
      }).expect(202);
    }
    expect(await until(() => heardOf(watcher, loadId, 'location').at(-1)?.fix?.lat === sent.at(-1), 5_000)).to.equal(
      true,
    );
    const window = Date.now() - from;
    const heard = heardOf(watcher, loadId, 'location');
    // At most one message per interval within that window, however long the machine took: sent
    // an interval apart at least, n messages span n - 1 intervals. Pings posted back to back
    // (milliseconds apart here) are folded; without the throttle each would be a message of its own.
    expect(heard.length)
      .to.be.at.least(1)
      .and.at.most(Math.floor(window / LOCATION_INTERVAL_MS) + 1);
    // Positions only move forward.
    const positions = heard.map((m) => m.position.split('/').map(BigInt));
    for (let i = 1; i < positions.length; i++)
      expect(positions[i]![0]! > positions[i - 1]![0]! || positions[i]![1]! > positions[i - 1]![1]!).to.equal(true);
  });

  it('gives a reconnecting dashboard what it missed since the last position it saw', async () => {
    const loadId = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    const first = await dashboard({ token: token(shipper) });
    await subscribe(first, { room: `org:${shipper.orgId}` });
    await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 190_000 }).expect(202);
    expect(await until(() => heardOf(first, loadId).some((m) => m.load?.rateCents === 190_000), 10_000)).to.equal(true);
    const last = heardOf(first, loadId).at(-1)!.position;
    first.disconnect();
    // While it is away: a change to this load, and a new load of the organisation.
    await post(shipper.auth, `/loads/${loadId}/revise`, { rateCents: 200_000 }).expect(202);
    const other = (await post(shipper.auth, '/loads', loadBody(shipper.orgId)).expect(201)).body.loadId;
    await h.settle();
    const again = await dashboard({ token: token(shipper) });
    const ack = await subscribe(again, { room: `org:${shipper.orgId}`, since: last });
    expect(ack).to.include({ ok: true });
    expect(ack.resumed).to.be.at.least(2);
    expect(heardOf(again, loadId).map((m) => m.load?.rateCents)).to.deep.equal([200_000]);
    expect(heardOf(again, other)).to.have.length(1);
    // Nothing from before the position.
    for (const x of again.heard)
      expect(comparePositions(parsePosition(x.msg.position), parsePosition(last))).to.equal(1);
  });
});
