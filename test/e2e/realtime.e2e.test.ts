import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { io as connect, type Socket } from 'socket.io-client';
import { mintToken } from '../../src/auth/tokens.js';
import { DEV_JWT_SECRET, loadConfig } from '../../src/infra/config.js';
import { until } from '../support/async.js';
import { loadBody } from '../support/loads.js';
import { spawnCli, type Spawned } from '../support/process.js';
import { freshDatabase, testServices } from '../support/services.js';

describe('Dashboards across API processes', function () {
  this.timeout(120_000);
  const procs: Spawned[] = [];
  let socket: Socket | undefined;
  after(() => {
    socket?.disconnect();
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('delivers to a client on one process a change projected by another, through Redis', async () => {
    const url = await freshDatabase('realtime_e2e');
    const { redisUrl } = await testServices();
    const env = {
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: `t:${randomUUID()}:`,
    };
    // A: the API alone, where the dashboard connects. B: API and projectors, where the change is projected.
    const a = spawnCli('serve', ['--role', 'api'], env);
    const b = spawnCli('serve', ['--role', 'api', '--role', 'projector'], env);
    procs.push(a, b);
    const portA = ((await a.waitForLog('listening')) as { port: number }).port;
    const portB = ((await b.waitForLog('listening')) as { port: number }).port;

    const config = loadConfig({ NODE_ENV: 'test' });
    const sign = (p: { userId: string; orgId: string; roles: ('admin' | 'shipper')[] }) =>
      mintToken({ secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }, p);
    const admin = await sign({ userId: randomUUID(), orgId: config.PLATFORM_ORG_ID, roles: ['admin'] });
    const call = async (port: number, tok: string, path: string, body: object) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    // The read models exist once B's projectors have started.
    expect(
      await until(async () => (await fetch(`http://127.0.0.1:${portB}/ready`)).status === 200, 30_000, 100),
    ).to.equal(true);
    const org = await call(portB, admin, '/orgs', { name: 'Two Process Steel', kind: 'shipper' });
    expect(org.status, JSON.stringify(org.body)).to.equal(201);
    const user = await call(portB, admin, `/orgs/${org.body.orgId}/users`, {
      email: `${randomUUID().slice(0, 8)}@example.com`,
      name: 'Pat',
      roles: ['shipper'],
    });
    expect(user.status, JSON.stringify(user.body)).to.equal(201);
    const shipper = await sign({ userId: user.body.userId!, orgId: org.body.orgId!, roles: ['shipper'] });
    // The principals projector (on B) has to have seen the user before A lets it in.
    expect(
      await until(
        async () =>
          (
            await fetch(`http://127.0.0.1:${portA}/orgs/${org.body.orgId}`, {
              headers: { authorization: `Bearer ${shipper}` },
            })
          ).status === 200,
        20_000,
        100,
      ),
    ).to.equal(true);

    socket = connect(`http://127.0.0.1:${portA}`, {
      transports: ['websocket'],
      auth: { token: shipper },
      reconnection: false,
    });
    const heard: { loadId: string; position: string; status: string }[] = [];
    socket.on('load', (m: { loadId: string; position: string; status: string }) => heard.push(m));
    await new Promise<void>((resolve, reject) => {
      socket!.once('connect', () => resolve());
      socket!.once('connect_error', reject);
    });
    const ack = (await socket.timeout(5_000).emitWithAck('subscribe', { room: `org:${org.body.orgId}` })) as {
      ok: boolean;
    };
    expect(ack.ok).to.equal(true);

    // Posted on A; projected (and broadcast) by B; heard on A.
    const posted = await call(portA, shipper, '/loads', loadBody(org.body.orgId!));
    expect(posted.status).to.equal(201);
    expect(await until(() => heard.some((m) => m.loadId === posted.body.loadId), 20_000)).to.equal(true);
    expect(heard.find((m) => m.loadId === posted.body.loadId)).to.include({
      status: 'posted',
      position: posted.body.position,
    });

    for (const p of [a, b]) p.child.kill('SIGTERM');
    for (const p of [a, b]) expect((await p.exited).code, p.output()).to.equal(0);
  });
});
