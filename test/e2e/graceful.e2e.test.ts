import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { mintToken } from '../../src/auth/tokens.js';
import { createKnex } from '../../src/infra/db.js';
import { DEV_JWT_SECRET, loadConfig } from '../../src/infra/config.js';
import { until } from '../support/async.js';
import { spawnCli, type Spawned } from '../support/process.js';
import { freshDatabase, testServices } from '../support/services.js';

describe('A restart under load', function () {
  this.timeout(120_000);
  const procs: Spawned[] = [];
  after(() => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('loses no accepted command: SIGTERM drains in-flight requests and exits 0; clients retry the rest with their keys', async () => {
    const url = await freshDatabase('graceful_e2e');
    const { redisUrl } = await testServices();
    const env = {
      DATABASE_URL: url,
      REDIS_URL: redisUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: `t:${randomUUID()}:`,
      RATE_LIMIT_PER_IP: '0',
      RATE_LIMIT_PER_USER: '0',
    };
    const config = loadConfig({ NODE_ENV: 'test' });
    const admin = await mintToken(
      { secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
      { userId: randomUUID(), orgId: config.PLATFORM_ORG_ID, roles: ['admin'] },
    );

    const start = async () => {
      const p = spawnCli('serve', [], env);
      procs.push(p);
      return { p, port: ((await p.waitForLog('listening')) as { port: number }).port };
    };
    let { p, port } = await start();

    // Clients keep registering organisations, each command with its own Idempotency-Key, retrying
    // (same key) on a refused connection or a 503 until it is answered.
    const accepted = new Map<string, string>();
    let stop = false;
    const send = async (key: string) => {
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/orgs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'idempotency-key': key },
            body: JSON.stringify({ name: `Org ${key}`, kind: 'shipper' }),
          });
          if (res.status === 201) {
            accepted.set(key, ((await res.json()) as { orgId: string }).orgId);
            return;
          }
          if (res.status !== 503) throw new Error(`unexpected ${res.status}: ${await res.text()}`);
        } catch (err) {
          // A refused or reset connection (the process is restarting): retry with the same key.
          if (!/ECONNREFUSED|ECONNRESET|EPIPE|socket|other side closed/i.test(String((err as Error).cause ?? err)))
            throw err;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const keys: string[] = [];
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        const key = `k-${c}-${i}`;
        keys.push(key);
        await send(key);
      }
    });

    // Waits for commands to flow (a condition, not a count within a time: the machine may be busy).
    expect(await until(() => accepted.size >= 10, 60_000, 20), 'commands were flowing before the restart').to.equal(
      true,
    );
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect(
      exit.code,
      `a drained shutdown exits 0; ${p
        .output()
        .split('\n')
        .filter((l) => /shutdown|stopped|timed out/.test(l))
        .join('\n')
        .slice(0, 3000)}`,
    ).to.equal(0);
    const drained = accepted.size;
    ({ p, port } = await start());
    expect(
      await until(() => accepted.size >= drained + 10, 60_000, 20),
      'commands flow again after the restart',
    ).to.equal(true);
    stop = true;
    await Promise.all(clients);

    expect(accepted.size).to.equal(keys.length);
    // Every answered command is in the log, exactly once. (Read from the table: a $all read stops
    // below any transaction still open in the cluster, and the restarted service is busy projecting.)
    const knex = createKnex(url, 2);
    try {
      const registered = await knex('es_events').where({ type: 'OrganisationRegistered' }).pluck<string[]>('stream_id');
      expect(new Set(registered).size).to.equal(registered.length);
      const have = new Set(registered);
      for (const orgId of accepted.values()) expect(have.has(`organisation-${orgId}`), orgId).to.equal(true);
      expect(registered.length).to.equal(accepted.size);
    } finally {
      await knex.destroy();
    }
    p.child.kill('SIGTERM');
    expect((await p.exited).code).to.equal(0);
  });
});
