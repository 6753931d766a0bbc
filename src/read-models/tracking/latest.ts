import type { Redis } from 'ioredis';
import type { Actor } from '../../domain/shared/actor.js';

const loadKey = (loadId: string) => `trk:load:${loadId}`;
const GEO_KEY = 'trk:geo';

// A fix replaces the stored one only when it was taken later: out-of-order and replayed pings,
// or two projector processes, can never move a truck backwards. Redis's geo index stops short of
// the poles (±85.05°), so a fix beyond that is kept in the hash but not indexed.
// KEYS[1] load hash, KEYS[2] geo set; ARGV: recordedAt ms, lat, lng, speed, heading, accuracy, position, loadId.
const SET_FIX_IF_LATER = `
local cur = redis.call('HGET', KEYS[1], 'recordedAt')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'recordedAt', ARGV[1], 'lat', ARGV[2], 'lng', ARGV[3], 'speedMph', ARGV[4],
  'headingDeg', ARGV[5], 'accuracyM', ARGV[6], 'position', ARGV[7])
if redis.call('HGET', KEYS[1], 'active') ~= '0' and math.abs(tonumber(ARGV[2])) <= 85.05 then
  redis.call('GEOADD', KEYS[2], ARGV[3], ARGV[2], ARGV[8])
end
return 1`;

// The load's facts (orgs, truck, status) from its own stream, only when newer by revision. A load
// that stops being hauled leaves the geo index; its last fix stays readable.
// KEYS[1] load hash, KEYS[2] geo set; ARGV: revision, active ('1', '0' or ''), loadId, field/value pairs.
const SET_FACTS_IF_NEWER = `
local cur = redis.call('HGET', KEYS[1], 'rev')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'rev', ARGV[1], unpack(ARGV, 4))
if ARGV[2] == '0' then
  redis.call('HSET', KEYS[1], 'active', '0')
  redis.call('ZREM', KEYS[2], ARGV[3])
elseif ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'active', '1')
end
return 1`;

type Scripted = Redis & {
  trkSetFix(key: string, geo: string, ...args: string[]): Promise<number>;
  trkSetFacts(key: string, geo: string, ...args: string[]): Promise<number>;
};

export interface Fix {
  lat: number;
  lng: number;
  speedMph: number;
  headingDeg?: number;
  accuracyM?: number;
  recordedAt: Date;
  /** Global position of the ping's event ("commit/prepare"). */
  position: string;
}

export interface LoadFacts {
  shipperOrgId?: string;
  carrierOrgId?: string;
  truckId?: string;
  status?: string;
}

export interface TrackedLoad extends LoadFacts {
  loadId: string;
  active: boolean;
  fix?: Fix;
}

/**
 * The latest location of every tracked load, in Redis: a hash per load (its last fix and the
 * facts that say who may see it and which truck it is) and one geo index of the loads being
 * hauled. Reads are Redis only.
 */
export class LatestLocations {
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    this.redis = redis as Scripted;
    if (!('trkSetFix' in redis)) {
      redis.defineCommand('trkSetFix', { numberOfKeys: 2, lua: SET_FIX_IF_LATER });
      redis.defineCommand('trkSetFacts', { numberOfKeys: 2, lua: SET_FACTS_IF_NEWER });
    }
  }

  /** Stores a fix unless a later one is stored; answers whether it was stored. */
  async recordFix(loadId: string, fix: Fix): Promise<boolean> {
    const n = await this.redis.trkSetFix(
      loadKey(loadId),
      GEO_KEY,
      String(fix.recordedAt.getTime()),
      String(fix.lat),
      String(fix.lng),
      String(fix.speedMph),
      fix.headingDeg === undefined ? '' : String(fix.headingDeg),
      fix.accuracyM === undefined ? '' : String(fix.accuracyM),
      fix.position,
      loadId,
    );
    return n === 1;
  }

  async recordFacts(loadId: string, revision: bigint, facts: LoadFacts, active?: boolean): Promise<void> {
    const pairs = Object.entries({
      status: facts.status,
      shipperOrgId: facts.shipperOrgId,
      carrierOrgId: facts.carrierOrgId,
      truckId: facts.truckId,
    }).flatMap(([k, v]) => (v === undefined ? [] : [k, v]));
    await this.redis.trkSetFacts(
      loadKey(loadId),
      GEO_KEY,
      revision.toString(),
      active === undefined ? '' : active ? '1' : '0',
      loadId,
      ...pairs,
    );
  }

  async get(loadId: string): Promise<TrackedLoad | undefined> {
    return parse(loadId, await this.redis.hgetall(loadKey(loadId)));
  }

  /** Loads being hauled within `radiusMi` of a point, nearest first, with their distance. */
  async near(
    point: { lat: number; lng: number },
    radiusMi: number,
    count: number,
  ): Promise<(TrackedLoad & { distanceMi: number })[]> {
    const hits = (await this.redis.geosearch(
      GEO_KEY,
      'FROMLONLAT',
      point.lng,
      point.lat,
      'BYRADIUS',
      radiusMi,
      'mi',
      'ASC',
      'COUNT',
      count,
      'WITHDIST',
    )) as [string, string][];
    const loads = await Promise.all(hits.map(([loadId]) => this.redis.hgetall(loadKey(loadId))));
    return hits.flatMap(([loadId, dist], i) => {
      const t = parse(loadId, loads[i]!);
      return t ? [{ ...t, distanceMi: Number(dist) }] : [];
    });
  }
}

function parse(loadId: string, h: Record<string, string>): TrackedLoad | undefined {
  if (h.rev === undefined && h.recordedAt === undefined) return undefined;
  const opt = (v: string | undefined) => (v ? v : undefined);
  const num = (v: string | undefined) => (v ? Number(v) : undefined);
  return {
    loadId,
    active: h.active === '1',
    ...(opt(h.status) ? { status: h.status } : {}),
    ...(opt(h.shipperOrgId) ? { shipperOrgId: h.shipperOrgId } : {}),
    ...(opt(h.carrierOrgId) ? { carrierOrgId: h.carrierOrgId } : {}),
    ...(opt(h.truckId) ? { truckId: h.truckId } : {}),
    ...(h.recordedAt
      ? {
          fix: {
            lat: Number(h.lat),
            lng: Number(h.lng),
            speedMph: Number(h.speedMph),
            ...(num(h.headingDeg) !== undefined ? { headingDeg: num(h.headingDeg)! } : {}),
            ...(num(h.accuracyM) !== undefined ? { accuracyM: num(h.accuracyM)! } : {}),
            recordedAt: new Date(Number(h.recordedAt)),
            position: h.position!,
          },
        }
      : {}),
  };
}

/** Staff see every load; others the loads their organisation posted or hauls. */
export function maySee(actor: Actor, load: Pick<LoadFacts, 'shipperOrgId' | 'carrierOrgId'>): boolean {
  if (actor.roles.includes('admin') || actor.roles.includes('auditor')) return true;
  return actor.orgId === load.shipperOrgId || actor.orgId === load.carrierOrgId;
}
