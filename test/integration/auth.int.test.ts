import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { ActivePrincipals } from '../../src/auth/principals.js';
import { createKnex } from '../../src/infra/db.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import { loadBody } from '../support/loads.js';

describe('Authentication and the cached active-principal check', () => {
  let h: ApiHarness;
  before(async () => {
    h = await apiHarness('auth');
  });
  after(async () => {
    await h.close();
  });
  const whoCanPost = (auth: string, orgId: string) =>
    h.http().post('/loads').set('Authorization', auth).send(loadBody(orgId));

  it('refuses a request without a token, or with a malformed one, with 401 problem+json and a Bearer challenge', async () => {
    const none = await h.http().post('/loads').send(loadBody(randomUUID())).expect(401);
    expect(none.headers['content-type']).to.match(/application\/problem\+json/);
    expect(none.headers['www-authenticate']).to.equal('Bearer');
    expect(none.body).to.include({ type: 'urn:freight:problem:unauthorized', status: 401 });
    await h.http().post('/loads').set('Authorization', 'Basic dXNlcjpwdw==').expect(401);
    const garbage = await h.http().post('/loads').set('Authorization', 'Bearer not.a.token').expect(401);
    expect(garbage.body.detail).to.match(/not valid/);
  });

  it('refuses tokens signed with another key, expired, or for another audience or issuer', async () => {
    const claims = { org: h.platformOrgId, roles: ['admin'] };
    const sign = (secret: string, edit: (j: SignJWT) => SignJWT = (j) => j) =>
      edit(new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(randomUUID()).setIssuedAt()).sign(
        new TextEncoder().encode(secret),
      );
    const ok = (j: SignJWT) =>
      j.setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).setExpirationTime('1h');
    const forged = await sign('x'.repeat(40), ok);
    expect(
      (
        await h
          .http()
          .get('/orgs/' + randomUUID())
          .set('Authorization', `Bearer ${forged}`)
      ).status,
    ).to.equal(401);
    const expired = await h.token(
      { userId: randomUUID(), orgId: h.platformOrgId, roles: ['admin'] },
      Math.floor(Date.now() / 1000) - 60,
    );
    const res = await h
      .http()
      .get('/orgs/' + randomUUID())
      .set('Authorization', `Bearer ${expired}`)
      .expect(401);
    expect(res.body.detail).to.equal('The token has expired');
    const { DEV_JWT_SECRET } = await import('../../src/infra/config.js');
    const otherAudience = await sign(DEV_JWT_SECRET, (j) =>
      j.setIssuer(h.config.JWT_ISSUER).setAudience('someone-else').setExpirationTime('1h'),
    );
    await h
      .http()
      .get('/orgs/' + randomUUID())
      .set('Authorization', `Bearer ${otherAudience}`)
      .expect(401);
    const otherIssuer = await sign(DEV_JWT_SECRET, (j) =>
      j.setIssuer('evil').setAudience(h.config.JWT_AUDIENCE).setExpirationTime('1h'),
    );
    await h
      .http()
      .get('/orgs/' + randomUUID())
      .set('Authorization', `Bearer ${otherIssuer}`)
      .expect(401);
    const noRoles = await new SignJWT({ org: h.platformOrgId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setIssuer(h.config.JWT_ISSUER)
      .setAudience(h.config.JWT_AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(DEV_JWT_SECRET));
    await h
      .http()
      .get('/orgs/' + randomUUID())
      .set('Authorization', `Bearer ${noRoles}`)
      .expect(401);
  });

  it('refuses a validly signed token for a user the log does not know, outside the platform organisation', async () => {
    const t = await h.token({ userId: randomUUID(), orgId: randomUUID(), roles: ['shipper'] });
    const res = await h.http().get(`/orgs/${randomUUID()}`).set('Authorization', `Bearer ${t}`).expect(401);
    expect(res.body.detail).to.match(/does not know/);
  });

  it('refuses a role the route does not allow, with 403', async () => {
    const carrier = await h.member('carrier', ['carrier']);
    const res = await h
      .http()
      .post('/orgs')
      .set('Authorization', carrier.auth)
      .send({ name: 'X', kind: 'shipper' })
      .expect(403);
    expect(res.body.type).to.equal('urn:freight:problem:forbidden');
  });

  it('stops a deactivated user at the next request, once the principals projector has seen the event', async () => {
    const m = await h.member('shipper', ['shipper', 'dispatcher']);
    await whoCanPost(m.auth, m.orgId).expect(201);
    await h.http().post(`/orgs/${m.orgId}/users/${m.userId}/deactivate`).set('Authorization', h.admin).expect(202);
    await h.settle();
    const res = await whoCanPost(m.auth, m.orgId).expect(401);
    expect(res.body.detail).to.equal('The user has been deactivated');
  });

  it('refuses every user of a suspended organisation until it is reinstated', async () => {
    const m = await h.member('shipper', ['shipper']);
    await h
      .http()
      .post(`/orgs/${m.orgId}/suspend`)
      .set('Authorization', h.admin)
      .send({ reason: 'unpaid invoices' })
      .expect(202);
    await h.settle();
    const res = await whoCanPost(m.auth, m.orgId).expect(403);
    expect(res.body.detail).to.equal('The organisation is suspended');
    await h.http().post(`/orgs/${m.orgId}/reinstate`).set('Authorization', h.admin).expect(202);
    await h.settle();
    await whoCanPost(m.auth, m.orgId).expect(201);
  });

  it("acts only with the token's roles the log still grants", async () => {
    const m = await h.member('shipper', ['shipper', 'dispatcher']);
    await h
      .http()
      .post(`/orgs/${m.orgId}/users/${m.userId}/roles`)
      .set('Authorization', h.admin)
      .send({ roles: ['dispatcher'] })
      .expect(202);
    await h.settle();
    // The token still says shipper + dispatcher; dispatcher remains, so the shipper-side route works...
    await whoCanPost(m.auth, m.orgId).expect(201);
    // ...but a token carrying only the removed role is refused.
    const onlyShipper = `Bearer ${await h.token({ userId: m.userId, orgId: m.orgId, roles: ['shipper'] })}`;
    const res = await whoCanPost(onlyShipper, m.orgId).expect(403);
    expect(res.body.detail).to.match(/None of the token's roles/);
  });

  it('refuses a token that puts a user in an organisation they do not belong to', async () => {
    const a = await h.member('shipper', ['shipper']);
    const b = await h.member('shipper', ['shipper']);
    const t = `Bearer ${await h.token({ userId: a.userId, orgId: b.orgId, roles: ['shipper'] })}`;
    await whoCanPost(t, b.orgId).expect(401);
  });

  it('answers from Redis alone once warm: the check works with the database unreachable', async () => {
    const m = await h.member('carrier', ['carrier', 'driver']);
    const unreachable = createKnex('postgres://nobody@127.0.0.1:1/none', 1);
    try {
      const offline = new ActivePrincipals({ redis: h.redis, knex: unreachable, platformOrgId: h.platformOrgId });
      const actor = await offline.actorFor({ userId: m.userId, orgId: m.orgId, roles: ['carrier'] });
      expect(actor).to.deep.equal({ userId: m.userId, orgId: m.orgId, roles: ['carrier'] });
      // A cold cache does need the database: the same check for an uncached user fails.
      let failed = false;
      await offline.actorFor({ userId: randomUUID(), orgId: m.orgId, roles: ['carrier'] }).catch(() => (failed = true));
      expect(failed).to.equal(true);
    } finally {
      await unreachable.destroy();
    }
  });

  it('fills a flushed cache from the organisations read model, and never lets a fill undo a newer state', async () => {
    const m = await h.member('shipper', ['shipper']);
    const keys = await h.redis.keys(`${h.redis.options.keyPrefix}auth:*`);
    await h.redis.del(...keys.map((k) => k.slice(h.redis.options.keyPrefix!.length)));
    await whoCanPost(m.auth, m.orgId).expect(201);
    // The projector wrote the deactivation (revision r); a late fill with the older DB state is ignored.
    const principals = new ActivePrincipals({ redis: h.redis, knex: h.knex, platformOrgId: h.platformOrgId });
    await principals.recordUser(m.userId, { orgId: m.orgId, active: false, roles: [] }, 1000n);
    await principals.recordUser(m.userId, { orgId: m.orgId, active: true, roles: ['shipper'] }, 1n);
    await whoCanPost(m.auth, m.orgId).expect(401);
  });

  it('lets platform staff in by token alone, with the admin and auditor roles only', async () => {
    const t = await h.token({ userId: randomUUID(), orgId: h.platformOrgId, roles: ['auditor'] });
    const res = await h.http().get(`/orgs/${randomUUID()}`).set('Authorization', `Bearer ${t}`).expect(404);
    expect(res.body.type).to.equal('urn:freight:problem:not-found');
    const shipperStaff = await h.token({ userId: randomUUID(), orgId: h.platformOrgId, roles: ['shipper'] });
    await h.http().get(`/orgs/${randomUUID()}`).set('Authorization', `Bearer ${shipperStaff}`).expect(403);
  });
});
