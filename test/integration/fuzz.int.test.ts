import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { formatPosition } from '../../src/eventstore/position.js';
import { DEV_JWT_SECRET } from '../../src/infra/config.js';
import { type ApiHarness, apiHarness } from '../support/api.js';
import {
  junkQueryValue,
  junkText,
  mutateBody,
  type Operation,
  operationsOf,
  type Param,
  type RawAnswer,
  type RawRequest,
  Rng,
  sendRaw,
  strangeBody,
  validValue,
} from '../support/fuzz.js';
import { carrierBody, goodVerification, loadBody } from '../support/loads.js';
import { ACTORS, type ActorName, buildWorld, LOAD_STATES, type World } from '../support/world.js';

/**
 * Every operation of the OpenAPI document, sent malformed bodies, queries, path ids, content types
 * and headers, with the world's real ids (a load in each state, carriers, organisations, payments,
 * users), as every role and organisation and as nobody. Each answer must be below 500; a refusal
 * must be problem+json whose `status` is the HTTP status; a success JSON (or nothing, for 204/304);
 * and the event store's head must not move unless a command answered 2xx (a read never moves it).
 *
 * FUZZ_SEED (default below) and FUZZ_REQUESTS (default 5,000, about 35 s on 2 cores; `npm run test:fuzz`
 * sends 30,000) choose the run; each request is a function of the seed and its index, so
 * FUZZ_ONLY=17,912 replays those requests alone (against a fresh world: ids differ, shapes do not).
 * FUZZ_TRACE=postLoad,listLoads prints every request and answer of those operations, FUZZ_VERBOSE=1
 * the statuses each operation answered, TEST_LOG_LEVEL=error the server's own account of a 500.
 * Failures are collected and reported together at the end, grouped by kind.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 7_355_608);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 5_000);
/** A fresh world every so many requests: the fuzz suspends organisations and cancels loads as it goes. */
const EPOCH = Number(process.env.FUZZ_EPOCH ?? 1_000);
const ONLY = process.env.FUZZ_ONLY ? process.env.FUZZ_ONLY.split(',').map(Number) : undefined;
/** Operation ids whose every request and answer are printed (FUZZ_TRACE=listLoads,postLoad). */
const TRACE = process.env.FUZZ_TRACE?.split(',');
const MIN_PER_OPERATION = 10;
const ANSWER_TIMEOUT_MS = 15_000;

type Caller = ActorName | 'anonymous' | `forged:${string}`;

interface Failure {
  index: number;
  operationId: string;
  caller: Caller;
  request: string;
  notes: string[];
  problem: string;
  answer: string;
}

/** Tokens that must not get anyone in: forged, expired, for nobody, for the wrong organisation. */
async function forgedTokens(h: ApiHarness, w: World): Promise<Record<string, string>> {
  const a = w.actors['shipperA.shipper'];
  const sign = (claims: Record<string, unknown>, secret = DEV_JWT_SECRET, exp: number | string = '1h') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(h.config.JWT_ISSUER)
      .setAudience(h.config.JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));
  const valid = await h.token({ userId: a.userId, orgId: a.orgId, roles: ['shipper'] });
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return {
    'no such user': `Bearer ${await h.token({ userId: randomUUID(), orgId: a.orgId, roles: ['shipper'] })}`,
    'other org': `Bearer ${await h.token({ userId: a.userId, orgId: w.orgs.shipperB, roles: ['shipper'] })}`,
    'roles not granted': `Bearer ${await h.token({ userId: a.userId, orgId: a.orgId, roles: ['shipper', 'admin'] })}`,
    'staff claim': `Bearer ${await h.token({ userId: a.userId, orgId: h.platformOrgId, roles: ['admin'] })}`,
    'deactivated user': `Bearer ${await h.token({ userId: w.users.deactivated, orgId: a.orgId, roles: ['shipper'] })}`,
    expired: `Bearer ${await h.token({ userId: a.userId, orgId: a.orgId, roles: ['shipper'] }, Math.floor(Date.now() / 1000) - 3_600)}`,
    'wrong secret': `Bearer ${await sign({ sub: a.userId, org: a.orgId, roles: ['shipper'] }, 'not-the-secret-at-all-0123456789')}`,
    'bad claims': `Bearer ${await sign({ sub: 'admin', org: '', roles: ['root'] })}`,
    'no exp': `Bearer ${await new SignJWT({ sub: a.userId, org: a.orgId, roles: ['shipper'] }).setProtectedHeader({ alg: 'HS256' }).setIssuer(h.config.JWT_ISSUER).setAudience(h.config.JWT_AUDIENCE).sign(new TextEncoder().encode(DEV_JWT_SECRET))}`,
    'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: a.userId, org: a.orgId, roles: ['admin'], exp: 9_999_999_999 })}.`,
    tampered: `Bearer ${valid.slice(0, -3)}${valid.slice(-3) === 'AAA' ? 'BBB' : 'AAA'}`,
    'no scheme': valid,
    'lower-case scheme': `bearer ${valid}`,
    'bare Bearer': 'Bearer',
    'Bearer and space': 'Bearer ',
    garbage: 'Bearer garbage.garbage.garbage',
    basic: 'Basic dXNlcjpwYXNz',
    huge: `Bearer ${'a'.repeat(6_000)}`,
    'two tokens': `Bearer ${valid} Bearer ${valid}`,
    'non-ascii': 'Bearer ключ',
  };
}

/** Real ids of the world by what they name, for path parameters and body fields. */
function pools(h: ApiHarness, w: World) {
  const loads = LOAD_STATES.map((s) => w.loads[s]);
  const users = [
    w.users.active,
    w.users.deactivated,
    ...ACTORS.map((a) => w.actors[a].userId).filter((id) => id !== 'admin'),
  ];
  const orgs = [...Object.values(w.orgs), h.platformOrgId];
  const carriers = Object.values(w.carriers);
  const payments = Object.values(w.payments);
  const byName: Record<string, string[]> = {
    loadId: loads,
    bidId: [w.bid],
    carrierId: carriers,
    orgId: orgs,
    shipperOrgId: orgs,
    userId: users,
    driverId: users,
    paymentId: payments,
  };
  return { byName, all: [...loads, ...users, ...orgs, ...carriers, ...payments, w.bid] };
}

/** Builds the request number `index` of the run: what is sent, by whom, and what was done to it. */
function compose(
  r: Rng,
  op: Operation,
  h: ApiHarness,
  w: World,
  tokens: Record<string, string>,
  memory: Memory,
): { caller: Caller; req: RawRequest; notes: string[]; conditional: boolean } {
  const notes: string[] = [];
  const ids = pools(h, w);
  // Callers: often one whose role the route takes (so that its input is read at all), else anyone.
  const roles = h.routes.find((x) => x.operationId === op.operationId)?.roles ?? 'any';
  const entitled = ACTORS.filter((a) => roles === 'any' || (roles as readonly string[]).includes(a.split('.').pop()!));
  const roll = r.float();
  const caller: Caller =
    roll < 0.4 && entitled.length
      ? r.pick(entitled)
      : roll < 0.85
        ? r.pick(ACTORS)
        : roll < 0.9
          ? 'anonymous'
          : `forged:${r.pick(Object.keys(tokens))}`;
  const member = caller in w.actors ? w.actors[caller as ActorName] : undefined;
  const orgFor = () =>
    member && member.orgId !== h.platformOrgId && r.chance(0.7) ? member.orgId : r.pick(ids.byName.orgId!);

  // Path parameters: a real id (sometimes one of another kind), a random uuid, or junk.
  const idFor = (p: Param): string => {
    const x = r.float();
    if (p.schema.enum?.length) return x < 0.85 ? String(r.pick(p.schema.enum)) : junkText(r);
    if (p.name === 'jobId')
      return x < 0.5 ? r.uuid() : x < 0.7 ? r.pick(['1', 'repeat:x:1', 'failed', `${r.uuid()}:0`]) : junkText(r);
    if (x < 0.7) return r.pick(ids.byName[p.name] ?? ids.all);
    if (x < 0.78) return r.pick(ids.all);
    if (x < 0.86) return r.uuid();
    notes.push(`${p.name}=junk`);
    return junkText(r);
  };
  let target = op.path.replace(/\{(\w+)\}/g, (_, name: string) =>
    idFor(
      op.params.find((p) => p.in === 'path' && p.name === name) ?? { name, in: 'path', required: true, schema: {} },
    ),
  );

  // Fields and parameters that name things name the world's (the caller's own organisation, mostly).
  const idHint = (name: string): unknown => {
    if (name === 'shipperOrgId' || name === 'orgId') return orgFor();
    const pool = ids.byName[name];
    return pool && r.chance(0.8) ? r.pick(pool) : undefined;
  };
  // Query parameters: absent, valid from the schema, or junk; now and then unknown and repeated keys.
  const queryHint = (name: string): unknown => {
    if (name === 'minPosition') return r.pick(['0/0', memory.head ?? '0/0', '99999999/0']);
    if (name === 'cursor') return r.pick(memory.cursors.get(op.operationId) ?? ['x']);
    // The document says only "string" for these lists (comma-separated or repeated): what they hold is ours to know.
    if (name === 'status')
      return r
        .shuffle(['posted', 'booked', 'assigned', 'picked_up', 'in_transit', 'delivered', 'cancelled', 'expired'])
        .slice(0, r.int(1, 3));
    if (name === 'equipment')
      return r.shuffle(['flatbed', 'step_deck', 'dry_van', 'reefer', 'power_only']).slice(0, r.int(1, 2));
    if (name === 'originStates' || name === 'destStates')
      return r.shuffle(['TX', 'OK', 'LA', 'CA']).slice(0, r.int(1, 2));
    if (name === 'pickupFrom' || name === 'from') return new Date(Date.now() - r.int(0, 48) * 3_600_000).toISOString();
    if (name === 'pickupTo' || name === 'to') return new Date(Date.now() + r.int(49, 96) * 3_600_000).toISOString();
    return idHint(name);
  };
  // One request in three sends only valid parameters, one in three spoils one, the rest spoil any.
  const query: string[] = [];
  const params = op.params.filter((q) => q.in === 'query');
  const mode = r.pick(['valid', 'one junk', 'chaos'] as const);
  const spoiled = mode === 'one junk' && params.length ? r.pick(params).name : undefined;
  const chosen = new Set(
    params
      .filter((p) => p.required || p.name === spoiled || r.chance(mode === 'chaos' ? 0.5 : 0.25))
      .map((p) => p.name),
  );
  // A point filter needs its three parameters (originLat, originLng, originRadiusMi).
  for (const name of [...chosen]) {
    const group = /^(origin|dest)(Lat|Lng|RadiusMi)$/.exec(name)?.[1];
    if (group)
      for (const p of params) if (p.name.startsWith(group) && /(Lat|Lng|RadiusMi)$/.test(p.name)) chosen.add(p.name);
  }
  for (const p of params) {
    if (!chosen.has(p.name) || (p.required && mode === 'chaos' && r.chance(0.1))) continue;
    if (p.name === 'cursor' && !memory.cursors.has(op.operationId) && p.name !== spoiled) continue;
    if (p.name === spoiled || (mode === 'chaos' && r.chance(0.3))) {
      query.push(`${p.name}=${junkQueryValue(r)}`);
      if (r.chance(0.3)) query.push(`${p.name}=${junkQueryValue(r)}`);
      notes.push(`?${p.name} junk`);
      continue;
    }
    const v = validValue(r, p.schema, queryHint, p.name);
    if (Array.isArray(v) && r.chance(0.5))
      v.forEach((item) => query.push(`${p.name}=${encodeURIComponent(String(item))}`));
    else query.push(`${p.name}=${encodeURIComponent(Array.isArray(v) ? v.join(',') : String(v))}`);
  }
  if (r.chance(0.1)) {
    query.push(
      r.pick([
        'unknown=1',
        '__proto__=x',
        'constructor=x',
        '%00=1',
        'a[b]=1',
        'a[]=1',
        '=x',
        '&&',
        'x',
        `${'k'.repeat(300)}=v`,
        'limit=1&limit=2',
        '%E0%A4%A=1',
      ]),
    );
    notes.push('?extra');
  }
  if (query.length) target += `?${query.join('&')}`;
  if (r.chance(0.02)) {
    target = r.pick([
      `${target}#frag`,
      `${target}/`,
      `//${target}`,
      target.toUpperCase(),
      `${target}?`,
      `http://fuzz.test${target}`,
      target.replace(/\//g, '%2F'),
    ]);
    notes.push('odd target');
  }

  // Method: the operation's, now and then another.
  let method = op.method.toUpperCase();
  if (r.chance(0.03)) {
    method = r.pick([
      'PUT',
      'PATCH',
      'DELETE',
      'HEAD',
      'OPTIONS',
      'TRACE',
      op.method === 'get' ? 'POST' : 'GET',
      'PURGE',
      'PROPFIND',
      'SEARCH',
    ]);
    notes.push(`method ${method}`);
  }

  // Body: valid, mutated, or not JSON at all; a bodiless command gets one now and then.
  let body: Buffer | undefined;
  let contentType: string | undefined = 'application/json';
  if (method !== 'GET' || r.chance(0.05)) {
    const valid = op.body ? goodBody(r, op, idHint, w, orgFor) : {};
    const validText = JSON.stringify(valid);
    const x = r.float();
    if (!op.body && x < 0.6) {
      body = undefined;
      if (r.chance(0.3)) notes.push('no body');
    } else if (x < (op.body ? 0.25 : 0.7)) {
      body = Buffer.from(validText);
      notes.push(op.body ? 'valid body' : 'body {}');
    } else if (x < 0.8) {
      const m = mutateBody(r, valid, op.body, op.operationId === 'recordPings' ? 512 * 1024 : 64 * 1024);
      body = Buffer.from(m.text);
      notes.push(...m.notes);
    } else {
      const s = strangeBody(r, validText);
      body = s.body;
      contentType = s.contentType;
      notes.push(`body: ${s.note}`);
    }
  }

  // Headers.
  const headers: [string, string | Buffer][] = [];
  if (r.chance(0.99)) headers.push(['Host', 'fuzz.test']);
  else notes.push('no Host');
  const auth = member ? member.auth : caller === 'anonymous' ? undefined : tokens[caller.slice('forged:'.length)];
  if (auth) headers.push(['Authorization', auth]);
  if (body !== undefined && contentType !== undefined) headers.push(['Content-Type', contentType]);
  if (op.command && method === 'POST') {
    const x = r.float();
    const mine = memory.keys.filter((k) => k.caller === caller);
    if (x < 0.6) headers.push(['Idempotency-Key', r.uuid()]);
    else if (x < 0.75 && mine.length) {
      headers.push(['Idempotency-Key', r.pick(mine).key]);
      notes.push('reused Idempotency-Key');
    } else if (x < 0.9) {
      const k = r.pick([
        '',
        ' ',
        'x'.repeat(300),
        'k'.repeat(255),
        'k'.repeat(256),
        'a\tb',
        'ключ',
        'a b',
        '"quoted"',
        'a\u007fb',
        '\u00ff',
      ]);
      headers.push(['Idempotency-Key', k]);
      notes.push(`Idempotency-Key ${JSON.stringify(k).slice(0, 20)}`);
    }
    if (r.chance(0.25)) {
      const m = r.pick([
        '"abc"',
        '"-1"',
        `"${'9'.repeat(25)}"`,
        '*',
        '"0"',
        '"1"',
        'W/"3"',
        '',
        '"',
        'null',
        '"18446744073709551616"',
        '"99999999999999999999"',
        '"9223372036854775807"',
        '"9223372036854775808"',
        '3',
        '"3", "4"',
        `"${memory.revision ?? '2'}"`,
      ]);
      headers.push(['If-Match', m]);
      notes.push(`If-Match ${m.slice(0, 24)}`);
    }
  }
  let conditional = false;
  if (method === 'GET' && r.chance(0.2)) {
    const known = memory.etags.get(target);
    const v =
      known && r.chance(0.5) ? known : r.pick(['*', 'W/"junk"', '"', 'x'.repeat(500), ',,,', '"a", *', 'W/', '""']);
    headers.push(['If-None-Match', v]);
    conditional = true;
    notes.push(`If-None-Match ${v.slice(0, 16)}`);
  }
  if (r.chance(0.1)) {
    const [k, v] = r.pick<[string, string | Buffer]>([
      ['X-Request-Id', 'x'.repeat(200)],
      ['X-Request-Id', '../../etc/passwd'],
      ['X-Request-Id', 'ünï'],
      ['X-Correlation-Id', '<script>'],
      ['X-Correlation-Id', ''],
      ['X-Correlation-Id', 'a b c'],
      ['X-Request-Id', Buffer.from([0xff, 0xfe, 0x80])],
      ['traceparent', '00-zzzz-zzzz-01'],
      ['traceparent', `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`],
      ['Accept', 'application/xml'],
      ['Accept-Encoding', r.pick(['gzip', 'br', 'deflate', 'identity;q=0', 'x-junk'])],
      ['Expect', '100-continue'],
      ['Expect', 'the-unexpected'],
      ['Content-Encoding', 'gzip'],
      ['X-Forwarded-For', '1.2.3.4, 5.6.7.8'],
      ['Origin', 'https://evil.example'],
      ['Cookie', 'a=b; bull-board=junk'],
      ['X-Junk', 'a\u0001b'],
      ['X-Big', 'b'.repeat(20_000)],
    ]);
    headers.push([k, v]);
    notes.push(`${k}: ${(typeof v === 'string' ? v : '<bytes>').slice(0, 16)}`);
  }
  if (body !== undefined) {
    if (r.chance(0.03) && body.length > 0) {
      headers.push(['Transfer-Encoding', 'chunked']);
      const cut = Math.floor(body.length / 2);
      const chunk = (b: Buffer) =>
        b.length ? [Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')] : [];
      body = Buffer.concat([...chunk(body.subarray(0, cut)), ...chunk(body.subarray(cut)), Buffer.from('0\r\n\r\n')]);
      notes.push('chunked');
    } else headers.push(['Content-Length', String(body.length)]);
  }
  headers.push(['Connection', 'close']);
  return { caller, req: { method, target, headers, ...(body !== undefined ? { body } : {}) }, notes, conditional };
}

/** Known-good bodies where the schema cannot say what makes one good (the world's ids, the caller's organisation). */
function goodBody(r: Rng, op: Operation, hint: (name: string) => unknown, w: World, orgFor: () => string): unknown {
  const byHint = () => validValue(r, op.body!, hint);
  switch (op.operationId) {
    case 'postLoad':
      return loadBody(orgFor(), r.chance(0.1) ? { loadId: r.pick(Object.values(w.loads)) } : {});
    case 'registerCarrier':
      return carrierBody(orgFor());
    case 'recordVerification':
      return goodVerification();
    case 'recordPings': {
      const ping = () => ({
        id: r.uuid(),
        lat: 30 + r.float(),
        lng: -95 - r.float(),
        speedMph: r.int(0, 70),
        recordedAt: new Date(Date.now() - r.int(0, 60_000)).toISOString(),
      });
      return {
        ...(r.chance(0.7)
          ? { loadId: r.pick([w.loads.in_transit, w.loads.assigned, w.loads.picked_up, w.loads.posted]) }
          : {}),
        pings: Array.from({ length: r.int(1, 3) }, ping),
      };
    }
    case 'assignDriver':
      return {
        driverId: r.pick([w.actors['carrierA.driver'].userId, w.actors['carrierB.driver'].userId, r.uuid()]),
        truckId: 'TX-1042',
      };
    default:
      return byHint();
  }
}

/** What the run remembers between requests, so later ones can reuse it (keys, ETags, cursors). */
interface Memory {
  head: string | undefined;
  keys: { caller: Caller; key: string }[];
  etags: Map<string, string>;
  /** nextCursor answers, by the operation that gave them. */
  cursors: Map<string, string[]>;
  revision?: string;
}

/** What is wrong with an answer, or undefined. */
function judge(req: RawRequest, a: RawAnswer, sentIfNoneMatch: boolean): string | undefined {
  const type = a.headers['content-type'] ?? '';
  const text = a.body.toString('utf8');
  if (a.status >= 500) return `a ${a.status}`;
  if (a.status >= 400) {
    if (!/^application\/problem\+json(;|$)/.test(type))
      return `a ${a.status} answered as ${type || 'no content type'}, not application/problem+json`;
    if (req.method === 'HEAD') return undefined;
    let p: { type?: unknown; status?: unknown; detail?: unknown };
    try {
      p = JSON.parse(text);
    } catch {
      return `a ${a.status} whose problem body is not JSON`;
    }
    if (typeof p.type !== 'string' || !p.type.startsWith('urn:freight:problem:'))
      return `a problem without a urn:freight:problem: type`;
    if (p.status !== a.status) return `a problem whose status ${String(p.status)} is not the HTTP status ${a.status}`;
    if (typeof p.detail !== 'string' || p.detail === '') return 'a problem without a detail';
    return undefined;
  }
  if (a.status === 304)
    return sentIfNoneMatch && (req.method === 'GET' || req.method === 'HEAD') && a.body.length === 0
      ? undefined
      : 'a 304 to a request that did not ask for one';
  if (a.status < 200 || a.status >= 300) return `an unexpected ${a.status}`;
  if (a.status === 204 || req.method === 'HEAD' || req.method === 'OPTIONS')
    return a.body.length === 0 || /json/.test(type) ? undefined : `a ${a.status} with a ${type} body`;
  if (!/^application\/json(;|$)/.test(type)) return `a ${a.status} answered as ${type || 'no content type'}`;
  try {
    JSON.parse(text);
  } catch {
    return `a ${a.status} whose body is not JSON`;
  }
  return undefined;
}

function describeRequest(req: RawRequest, notes: string[]): string {
  const headers = req.headers
    .filter(([k]) => !['Host', 'Connection', 'Content-Length'].includes(k))
    .map(
      ([k, v]) =>
        `${k}: ${(typeof v === 'string' ? v : `<${v.length} bytes>`).slice(0, k === 'Authorization' ? 20 : 60)}`,
    );
  const body = req.body ? ` body(${req.body.length}B): ${req.body.subarray(0, 160).toString('utf8')}` : '';
  return `${req.method} ${req.target.slice(0, 800)} [${notes.join('; ')}] {${headers.join(' | ')}}${body}`;
}

describe(`Fuzzing every operation of the OpenAPI document (FUZZ_SEED=${SEED}, FUZZ_REQUESTS=${REQUESTS})`, function () {
  let h: ApiHarness;
  let ops: Operation[];
  let port: number;
  const perOperation = new Map<string, { asked: number; statuses: Map<number, number> }>();
  const perCaller = new Map<Caller, number>();
  const failures: Failure[] = [];
  let answered = 0;
  /** Commands that answered 2xx and moved the head: the head is read, and moves, when it should. */
  let appendingSuccesses = 0;

  /** A harness of its own (database, Redis prefix, projectors): again after one whose projections stopped. */
  const freshHarness = async () => {
    await h?.close();
    h = await apiHarness('fuzz', {}, { listen: true });
    port = Number(new URL(h.baseUrl!).port);
  };

  before(async function () {
    this.timeout(120_000);
    await freshHarness();
    const doc = await h.http().get('/openapi.json').expect(200);
    ops = operationsOf(doc.body);
  });
  after(() => h?.close());

  /** What is committed (not what readers see yet): the measure of whether a request appended. */
  const head = () => h.committed();
  /** The readable head, for ?minPosition= values. */
  const position = async () => {
    const p = await h.store.headPosition();
    return p ? formatPosition(p) : undefined;
  };

  it('answers each request below 500, refusals as problem+json, and appends only when a command succeeds', async function () {
    this.timeout(180_000 + REQUESTS * 120);
    console.log(
      `      fuzz: FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS}${ONLY ? ` FUZZ_ONLY=${ONLY.join(',')}` : ''} over ${ops.length} operations`,
    );
    const started = Date.now();
    const memory: Memory = { head: undefined, keys: [], etags: new Map(), cursors: new Map() };
    let w: World | undefined;
    let tokens: Record<string, string> = {};
    let settled: string | undefined;
    /** A projector stopped on what a request stored: the rest of the run gets a new harness and world. */
    let poisoned = false;
    const indices = ONLY ?? Array.from({ length: REQUESTS }, (_, i) => i);
    for (const index of indices) {
      if (!w || poisoned || (!ONLY && index % EPOCH === 0)) {
        if (poisoned) await freshHarness();
        poisoned = false;
        w = await buildWorld(h);
        tokens = await forgedTokens(h, w);
        memory.keys = [];
        memory.etags.clear();
        await h.settle();
        settled = await head();
        memory.head = await position();
      }
      // Round-robin over a seeded shuffle of the operations: each is asked REQUESTS / operations times.
      const round = Math.floor(index / ops.length);
      const op = new Rng(SEED ^ Math.imul(round + 1, 0x27d4eb2d)).shuffle(ops)[index % ops.length]!;
      const r = Rng.derive(SEED, index);
      const { caller, req, notes, conditional } = compose(r, op, h, w, tokens, memory);
      const fail = (problem: string, answer = '') =>
        failures.push({
          index,
          operationId: op.operationId,
          caller,
          request: describeRequest(req, notes),
          notes,
          problem,
          answer,
        });
      let a: RawAnswer;
      try {
        a = await sendRaw(port, req, ANSWER_TIMEOUT_MS);
      } catch (err) {
        fail(`no answer: ${(err as Error).message}`);
        continue;
      }
      answered++;
      const stats = perOperation.get(op.operationId) ?? { asked: 0, statuses: new Map() };
      stats.asked++;
      stats.statuses.set(a.status, (stats.statuses.get(a.status) ?? 0) + 1);
      perOperation.set(op.operationId, stats);
      perCaller.set(caller, (perCaller.get(caller) ?? 0) + 1);
      const answerText = `${a.status} ${a.headers['content-type'] ?? '-'} ${a.body.subarray(0, 300).toString('utf8')}`;
      if (TRACE?.includes(op.operationId))
        console.log(`#${index} as ${caller}: ${describeRequest(req, notes)}\n  ← ${answerText}`);
      const wrong = judge(req, a, conditional);
      if (wrong) fail(wrong, answerText);

      // The head moves only for a command that succeeded; reactors may follow it, so settle then.
      const ok = a.status >= 200 && a.status < 300;
      const now = await head();
      if (now !== settled && !(ok && req.method === 'POST')) {
        fail(
          `the store went from ${settled} to ${now} on a ${a.status} to a ${req.method}; newest: ${(await h.newest(5)).join(', ')}`,
          answerText,
        );
      }
      if (now !== settled && ok && req.method === 'POST') appendingSuccesses++;
      if (now !== settled || (ok && req.method === 'POST')) {
        try {
          await h.settle();
        } catch (err) {
          // What it stored stopped a projector (a poison event): every read model behind it is stale from now on.
          const stuck = (await h.runner.status()).filter(
            (p) => p.lastError || p.state === 'failed' || p.state === 'stopped',
          );
          const appended = await h.newest(5);
          fail(
            `the projections did not settle after it (${(err as Error).message}); newest stored: ${appended.join(', ')}; ` +
              stuck
                .map(
                  (p) =>
                    `${p.name} ${p.state}: ${(p.lastError ?? '').replace(/insert into .* - /s, 'insert … - ').slice(0, 200)}`,
                )
                .join('; '),
            answerText,
          );
          poisoned = true;
        }
        settled = await head();
        memory.head = await position();
      }
      remember(memory, op.operationId, caller, req, a);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `      fuzz: ${answered} answers in ${seconds.toFixed(1)} s (${Math.round(answered / seconds)}/s), ${failures.length} failures`,
    );
    expect(failures.length, report(failures)).to.equal(0);
  });

  it(`asked every operation at least ${MIN_PER_OPERATION} times, as every actor, and got past the door and the shape checks`, function () {
    if (ONLY) this.skip();
    const lines = [...perOperation.entries()].map(
      ([id, s]) =>
        `${id}: ${[...s.statuses.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([st, n]) => `${st}×${n}`)
          .join(' ')}`,
    );
    if (process.env.FUZZ_VERBOSE) console.log(lines.join('\n'));
    const missing = ops
      .filter((o) => (perOperation.get(o.operationId)?.asked ?? 0) < MIN_PER_OPERATION)
      .map((o) => `${o.operationId} (${perOperation.get(o.operationId)?.asked ?? 0})`);
    expect(missing, `operations asked too rarely: ${missing.join(', ')}`).to.deep.equal([]);
    const unused = ACTORS.filter((a) => !perCaller.get(a));
    expect(unused, 'actors never used').to.deep.equal([]);
    expect(perCaller.get('anonymous') ?? 0).to.be.greaterThan(0);
    expect(appendingSuccesses, 'commands that succeeded and appended').to.be.greaterThan(
      ops.filter((o) => o.method === 'post').length / 4,
    );
    // An operation that only ever answered 401 was never really asked anything.
    const neverPastTheDoor = ops
      .filter((o) => [...(perOperation.get(o.operationId)?.statuses.keys() ?? [])].every((s) => s === 401))
      .map((o) => o.operationId);
    expect(neverPastTheDoor, 'operations that answered nothing but 401').to.deep.equal([]);
    const statuses = new Set([...perOperation.values()].flatMap((s) => [...s.statuses.keys()]));
    for (const s of [200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 415, 422])
      expect([...statuses], `some answer was a ${s}`).to.include(s);
  });
});

function remember(memory: Memory, operationId: string, caller: Caller, req: RawRequest, a: RawAnswer): void {
  const key = req.headers.find(([k]) => k === 'Idempotency-Key')?.[1];
  if (typeof key === 'string' && key && memory.keys.length < 500) memory.keys.push({ caller, key });
  if (a.headers.etag && req.method === 'GET') memory.etags.set(req.target, a.headers.etag);
  if (a.status >= 200 && a.status < 300 && /json/.test(a.headers['content-type'] ?? '')) {
    try {
      const body = JSON.parse(a.body.toString('utf8')) as { nextCursor?: unknown; revision?: unknown };
      const cursors = memory.cursors.get(operationId) ?? [];
      if (typeof body.nextCursor === 'string' && cursors.length < 20)
        memory.cursors.set(operationId, [...cursors, body.nextCursor]);
      if (typeof body.revision === 'string') memory.revision = body.revision;
    } catch {
      // judged above
    }
  }
}

/** Every failure, grouped by what went wrong (and the odd method or header that did it), with its operations and seed indices. */
function report(failures: Failure[]): string {
  const groups = new Map<string, Failure[]>();
  for (const f of failures) {
    const trigger = f.notes.filter((n) => /^(method |no Host|Expect)/.test(n)).map((n) => n.split(':')[0]);
    const k = `${f.problem
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
      .replace(/\d+\/\d+/g, 'N/N')
      .slice(0, 160)}${trigger.length ? ` [${trigger.join(', ')}]` : ''}`;
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  const out = [
    `${failures.length} failures of ${groups.size} kinds (FUZZ_SEED=${SEED}; replay some with FUZZ_ONLY=<index>,<index>):`,
  ];
  for (const [k, list] of groups) {
    const ops = [...new Set(list.map((f) => f.operationId))];
    out.push(
      `\n== ${k} ×${list.length}, in ${ops.length} operations: ${ops.join(', ').slice(0, 300)}\n   at ${list
        .map((f) => f.index)
        .join(',')
        .slice(0, 200)}`,
    );
    // Three examples, of different operations where there are.
    const firsts = ops.map((op) => list.find((f) => f.operationId === op)!);
    const examples = [...firsts, ...list.filter((f) => !firsts.includes(f))].slice(0, 3);
    for (const f of examples)
      out.push(`  #${f.index} ${f.operationId} as ${f.caller}: ${f.request}\n    → ${f.problem}\n    ← ${f.answer}`);
  }
  return out.join('\n');
}
