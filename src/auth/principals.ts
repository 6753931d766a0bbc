import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { type Actor, ROLES, type Role } from '../domain/shared/actor.js';
import { AccessDenied, NotReady, Unauthorized } from './errors.js';
import type { Principal } from './tokens.js';

/** What the event log says of a user or an organisation, with the org stream revision that said it. */
export interface UserStanding {
  orgId: string;
  active: boolean;
  roles: readonly Role[];
}
export type OrgStanding = 'active' | 'suspended';

const userKey = (userId: string) => `auth:user:${userId}`;
const orgKey = (orgId: string) => `auth:org:${orgId}`;

// Writes a hash only when its revision is newer than the stored one, so two projector processes,
// a replay, or a cache fill racing the projector can never bring an older state back; and, for a
// user, only for the organisation the user already belongs to (the first that added the id): a
// revision of another organisation's stream is no order at all, and that organisation's claim on
// the id must not take the user over.
// KEYS[1] hash; ARGV[1] revision; ARGV[2] ttl seconds (0: keep); ARGV[3] org ('' for none);
// ARGV[4..] field, value pairs.
const SET_IF_NEWER = `
local org = redis.call('HGET', KEYS[1], 'org')
if org and ARGV[3] ~= '' and org ~= ARGV[3] then return 0 end
local cur = redis.call('HGET', KEYS[1], 'rev')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'rev', ARGV[1], unpack(ARGV, 4))
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1`;

type WithSetIfNewer = Redis & {
  authSetIfNewer(key: string, rev: string, ttl: number, org: string, ...fields: string[]): Promise<number>;
};

/** An unknown user is remembered this long, so a stream of requests with it does not reach Postgres. */
const UNKNOWN_TTL_SECONDS = 30;

/**
 * The per-request check that a token's user and organisation are still active, answered from
 * Redis (one round trip, no database). The principals projector writes every change from the
 * organisation events; on a miss (a flushed cache) the organisations read model fills it.
 */
export class ActivePrincipals {
  private readonly redis: WithSetIfNewer;

  constructor(private readonly deps: { redis: Redis; knex: Knex; platformOrgId: string }) {
    this.redis = deps.redis as WithSetIfNewer;
    if (!('authSetIfNewer' in deps.redis))
      deps.redis.defineCommand('authSetIfNewer', { numberOfKeys: 1, lua: SET_IF_NEWER });
  }

  /** The actor a request acts as: the token's roles that the log still grants, or an error. */
  async actorFor(p: Principal): Promise<Actor> {
    const [user, org] = await Promise.all([this.redis.hgetall(userKey(p.userId)), this.redis.hgetall(orgKey(p.orgId))]);
    const u = user.rev === undefined ? await this.fillUser(p.userId) : user;
    const o = org.rev === undefined ? await this.fillOrg(p.orgId) : org;
    const platform = p.orgId === this.deps.platformOrgId;

    // Staff are the identity provider's: no organisation's claim on their id (a customer adding a
    // user with an admin's id) makes them that organisation's, or locks them out.
    if (u.known === '0' || (platform && u.org !== p.orgId)) {
      // Platform staff are vouched for by the identity provider until the log says otherwise.
      if (!platform) throw new Unauthorized('The token names a user this platform does not know');
      const staff = p.roles.filter((r) => r === 'admin' || r === 'auditor');
      if (!staff.length) throw new AccessDenied('Platform staff tokens carry the admin or auditor role');
      return { userId: p.userId, orgId: p.orgId, roles: staff };
    }
    if (u.org !== p.orgId) throw new Unauthorized('The token names an organisation the user does not belong to');
    if (u.active !== '1') throw new Unauthorized('The user has been deactivated');
    if (o.known === '0' && !platform)
      throw new Unauthorized('The token names an organisation this platform does not know');
    if (o.status === 'suspended') throw new AccessDenied('The organisation is suspended');
    // Staff roles are the platform's own: a customer organisation's user never acts with them.
    const granted = new Set(
      (u.roles ?? '').split(',').filter((r) => r && (platform || (r !== 'admin' && r !== 'auditor'))),
    );
    const roles = p.roles.filter((r) => granted.has(r));
    if (!roles.length) throw new AccessDenied("None of the token's roles is granted to the user any more");
    return { userId: p.userId, orgId: p.orgId, roles };
  }

  /** Called by the principals projector with each change the organisation events make. */
  async recordUser(userId: string, standing: UserStanding, revision: bigint): Promise<void> {
    await this.redis.authSetIfNewer(userKey(userId), revision.toString(), 0, standing.orgId, ...userFields(standing));
  }

  async recordOrg(orgId: string, status: OrgStanding, revision: bigint): Promise<void> {
    await this.redis.authSetIfNewer(orgKey(orgId), revision.toString(), 0, '', 'known', '1', 'status', status);
  }

  /** Reads the organisations read model; before its first generation exists, answers 503. */
  private async lookup<T>(table: 'org_users' | 'organisations', where: Record<string, string>): Promise<T | undefined> {
    try {
      return (await this.deps.knex(table).where(where).first()) as T | undefined;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') throw new NotReady('Accounts are still loading; retry shortly');
      throw err;
    }
  }

  private async fillUser(userId: string): Promise<Record<string, string>> {
    const row = await this.lookup<{ org_id: string; active: boolean; roles: string[]; revision: string }>('org_users', {
      user_id: userId,
    });
    if (!row) {
      await this.redis.authSetIfNewer(userKey(userId), '-1', UNKNOWN_TTL_SECONDS, '', 'known', '0');
      return { known: '0' };
    }
    const standing = {
      orgId: row.org_id,
      active: row.active,
      roles: row.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r)),
    };
    await this.redis.authSetIfNewer(userKey(userId), row.revision, 0, standing.orgId, ...userFields(standing));
    // Read back: the projector may have written a newer state meanwhile.
    return this.redis.hgetall(userKey(userId));
  }

  private async fillOrg(orgId: string): Promise<Record<string, string>> {
    const row = await this.lookup<{ status: OrgStanding; revision: string }>('organisations', { org_id: orgId });
    if (!row) {
      await this.redis.authSetIfNewer(orgKey(orgId), '-1', UNKNOWN_TTL_SECONDS, '', 'known', '0');
      return { known: '0' };
    }
    await this.redis.authSetIfNewer(orgKey(orgId), row.revision, 0, '', 'known', '1', 'status', row.status);
    return this.redis.hgetall(orgKey(orgId));
  }
}

function userFields(s: UserStanding): string[] {
  return ['known', '1', 'org', s.orgId, 'active', s.active ? '1' : '0', 'roles', s.roles.join(',')];
}
