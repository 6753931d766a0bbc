/**
 * The conventional peer: the service a competent team would build for the same routes on the stack
 * the seed documents recommend. Express 5, Drizzle ORM over one `pg` pool of 10, zod validation
 * (the same schemas as ours), JWT (HS256) with the user cached in Redis for 15 minutes, relational
 * columns with the indexes its queries need, `cube`/`earthdistance` for radius search, a transaction
 * with `SELECT … FOR UPDATE` to book, a multi-row `INSERT … ON CONFLICT DO NOTHING` plus a Redis
 * write and a Socket.IO emit for pings. One process. No deliberate handicaps: it does what each
 * request needs and no more (no event log, no audit trail, no read-your-writes, no idempotency keys).
 *
 * Run: `node --import tsx bench/conventional/server.ts` with DATABASE_URL, REDIS_URL, JWT_SECRET,
 * JWT_ISSUER, JWT_AUDIENCE (PORT, default 0); prints `{"port":n}` when listening.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { and, asc, desc, eq, gte, inArray, lte, or, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { Server as SocketServer } from 'socket.io';
import { z, ZodError } from 'zod';
import { loadDetails } from '../../src/domain/load/schemas.js';
import { estimatedRoadMiles } from '../../src/domain/shared/geo.js';
import { checkPings, DEFAULT_PING_LIMITS } from '../../src/domain/tracking/pings.js';
import { boardFilterQuery } from '../../src/http/routes/load-board.js';
import { carriers, loadEvents, loads, organisations, pings, schema, users } from './schema.js';

const env = z
  .object({
    DATABASE_URL: z.string(),
    REDIS_URL: z.string(),
    REDIS_KEY_PREFIX: z.string().default('conv:'),
    JWT_SECRET: z.string().min(32),
    JWT_ISSUER: z.string(),
    JWT_AUDIENCE: z.string(),
    PORT: z.coerce.number().int().default(0),
  })
  .parse(process.env);

const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
const db = drizzle(pool, { schema });
const redis = new Redis(env.REDIS_URL, { keyPrefix: env.REDIS_KEY_PREFIX });
const key = new TextEncoder().encode(env.JWT_SECRET);
const USER_TTL_S = 15 * 60;

type Role = 'admin' | 'shipper' | 'carrier' | 'driver' | 'dispatcher' | 'auditor';
interface User {
  id: string;
  orgId: string;
  orgName: string;
  roles: Role[];
}
type Authed = Request & { user: User };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const problem = (res: Response, status: number, title: string, extra: object = {}) =>
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: 'about:blank', title, status, ...extra });

/** The bearer token, then the user: from Redis, or the database (then cached for 15 minutes). */
async function authenticate(req: Request, _res: Response, next: NextFunction) {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) throw new HttpError(401, 'Sign in first');
  let sub: string;
  let org: string;
  try {
    const { payload } = await jwtVerify(header.slice(7), key, {
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      algorithms: ['HS256'],
    });
    sub = String(payload.sub);
    org = String(payload.org);
  } catch {
    throw new HttpError(401, 'Sign in first');
  }
  const cached = await redis.get(`user:${sub}`);
  let user: (User & { active: boolean }) | undefined = cached ? JSON.parse(cached) : undefined;
  if (!user) {
    const [row] = await db
      .select({
        id: users.id,
        orgId: users.orgId,
        orgName: organisations.name,
        roles: users.roles,
        active: sql<boolean>`${users.active} and ${organisations.active}`,
      })
      .from(users)
      .innerJoin(organisations, eq(users.orgId, organisations.id))
      .where(eq(users.id, sub))
      .limit(1);
    if (!row) throw new HttpError(401, 'Sign in first');
    user = { ...row, roles: row.roles as Role[] };
    await redis.set(`user:${sub}`, JSON.stringify(user), 'EX', USER_TTL_S);
  }
  if (!user.active || user.orgId !== org) throw new HttpError(401, 'Sign in first');
  (req as Authed).user = user;
  next();
}

const SHIPPER_SIDE: Role[] = ['shipper', 'dispatcher', 'admin'];
const CARRIER_SIDE: Role[] = ['carrier', 'dispatcher', 'admin'];
function requireRole(req: Request, roles: Role[]): User {
  const user = (req as Authed).user;
  if (!user.roles.some((r) => roles.includes(r))) throw new HttpError(403, 'Your role may not do this');
  return user;
}

type LoadRow = typeof loads.$inferSelect;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A load as clients see it (the same fields as ours). */
function summaryOf(r: LoadRow, deadheadMi: number | null = null) {
  return {
    loadId: r.id,
    version: r.version,
    status: r.status,
    shipper: { orgId: r.shipperOrgId, name: r.shipperName },
    reference: r.reference,
    commodity: r.commodity,
    description: r.description,
    weightLb: r.weightLb,
    lengthFt: r.lengthFt,
    equipmentType: r.equipmentType,
    loadSize: r.loadSize,
    origin: {
      address: r.originAddress,
      city: r.originCity,
      state: r.originState,
      zip: r.originZip,
      lat: r.originLat,
      lng: r.originLng,
    },
    destination: {
      address: r.destAddress,
      city: r.destCity,
      state: r.destState,
      zip: r.destZip,
      lat: r.destLat,
      lng: r.destLng,
    },
    pickupWindow: { from: iso(r.pickupFrom), to: iso(r.pickupTo) },
    deliveryWindow: { from: iso(r.deliveryFrom), to: iso(r.deliveryTo) },
    rateCents: r.rateCents,
    currency: r.currency,
    tripMiles: r.tripMiles,
    ratePerMileCents: r.ratePerMileCents,
    requirements: { tarps: r.tarps, hazmat: r.hazmat, twic: r.twic, teamDrivers: r.teamDrivers },
    booking: r.carrierId
      ? {
          carrierId: r.carrierId,
          carrierOrgId: r.carrierOrgId,
          rateCents: r.bookedRateCents,
          bookedAt: iso(r.bookedAt),
        }
      : null,
    assignment: r.driverId ? { driverId: r.driverId, truckId: r.truckId } : null,
    postedAt: iso(r.postedAt),
    ageMinutes: Math.floor((Date.now() - r.postedAt.getTime()) / 60_000),
    deadheadMi,
  };
}

/** Who may see which loads: staff all; others posted loads and their own organisation's. */
function visibleTo(user: User): SQL | undefined {
  if (user.roles.includes('admin') || user.roles.includes('auditor')) return undefined;
  return or(eq(loads.status, 'posted'), eq(loads.shipperOrgId, user.orgId), eq(loads.carrierOrgId, user.orgId));
}

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '512kb' }));
const server = createServer(app);
const io = new SocketServer(server, { transports: ['websocket'] });

app.get('/health', (_req, res) => {
  res.json({ ok: true });
});

app.post('/loads', authenticate, async (req, res) => {
  const user = requireRole(req, SHIPPER_SIDE);
  const body = loadDetails.extend({ loadId: z.uuid().optional() }).parse(req.body);
  if (body.shipperOrgId !== user.orgId && !user.roles.includes('admin'))
    throw new HttpError(403, 'You may post loads for your own organisation only');
  const now = new Date();
  const tripMiles = body.tripMiles ?? estimatedRoadMiles(body.origin, body.destination);
  const row: typeof loads.$inferInsert = {
    id: body.loadId ?? randomUUID(),
    shipperOrgId: body.shipperOrgId,
    shipperName: user.orgName,
    reference: body.reference,
    commodity: body.commodity,
    description: body.description,
    weightLb: body.weightLb,
    lengthFt: body.lengthFt,
    equipmentType: body.equipmentType,
    loadSize: body.loadSize,
    originAddress: body.origin.address,
    originCity: body.origin.city,
    originState: body.origin.state,
    originZip: body.origin.zip,
    originLat: body.origin.lat,
    originLng: body.origin.lng,
    destAddress: body.destination.address,
    destCity: body.destination.city,
    destState: body.destination.state,
    destZip: body.destination.zip,
    destLat: body.destination.lat,
    destLng: body.destination.lng,
    pickupFrom: new Date(body.pickupWindow.from),
    pickupTo: new Date(body.pickupWindow.to),
    deliveryFrom: new Date(body.deliveryWindow.from),
    deliveryTo: new Date(body.deliveryWindow.to),
    rateCents: body.rateCents,
    currency: body.currency,
    tripMiles,
    ratePerMileCents: Math.round(body.rateCents / Math.max(1, tripMiles)),
    tarps: body.requirements.tarps,
    hazmat: body.requirements.hazmat,
    twic: body.requirements.twic,
    teamDrivers: body.requirements.teamDrivers,
    status: 'posted',
    postedAt: now,
    updatedAt: now,
  };
  const [created] = await db.transaction(async (tx) => {
    const inserted = await tx.insert(loads).values(row).onConflictDoNothing().returning();
    if (inserted.length === 0) throw new HttpError(409, 'A load with this id exists');
    await tx.insert(loadEvents).values({ loadId: row.id!, status: 'posted', at: now, actorId: user.id });
    return inserted;
  });
  io.to('board').emit('load', summaryOf(created!));
  res.status(201).location(`/loads/${row.id}`).json({ loadId: row.id, status: 'posted', version: 1 });
});

const SORTS = {
  pickup: [asc(loads.pickupFrom), asc(loads.id)],
  rate: [desc(loads.rateCents), asc(loads.id)],
  ratePerMile: [desc(loads.ratePerMileCents), asc(loads.id)],
  tripMiles: [asc(loads.tripMiles), asc(loads.id)],
  age: [desc(loads.postedAt), asc(loads.id)],
} as const;
const boardQuery = boardFilterQuery.extend({
  sort: z.enum(['pickup', 'rate', 'ratePerMile', 'tripMiles', 'age', 'deadhead']).default('pickup'),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  offset: z.coerce.number().int().min(0).max(10_000).default(0),
});
const METERS_PER_MILE = 1609.344;
const earth = (lat: unknown, lng: unknown) => sql`ll_to_earth(${lat}, ${lng})`;
const within = (lat: number, lng: number, radiusMi: number, latCol: unknown, lngCol: unknown) => {
  const m = radiusMi * METERS_PER_MILE;
  return sql`earth_box(${earth(lat, lng)}, ${m}) @> ${earth(latCol, lngCol)} and earth_distance(${earth(lat, lng)}, ${earth(latCol, lngCol)}) <= ${m}`;
};

app.get('/loads', authenticate, async (req, res) => {
  const user = (req as Authed).user;
  const q = boardQuery.parse(req.query);
  const conds: (SQL | undefined)[] = [inArray(loads.status, q.status?.length ? q.status : ['posted']), visibleTo(user)];
  const origin = q.originLat !== undefined && q.originLng !== undefined && q.originRadiusMi !== undefined;
  if (origin) conds.push(within(q.originLat!, q.originLng!, q.originRadiusMi!, loads.originLat, loads.originLng));
  if (q.destLat !== undefined && q.destLng !== undefined && q.destRadiusMi !== undefined)
    conds.push(within(q.destLat, q.destLng, q.destRadiusMi, loads.destLat, loads.destLng));
  if (q.originStates?.length) conds.push(inArray(loads.originState, q.originStates));
  if (q.destStates?.length) conds.push(inArray(loads.destState, q.destStates));
  if (q.equipment?.length) conds.push(inArray(loads.equipmentType, q.equipment));
  if (q.loadSize) conds.push(eq(loads.loadSize, q.loadSize));
  if (q.pickupFrom) conds.push(gte(loads.pickupTo, new Date(q.pickupFrom)));
  if (q.pickupTo) conds.push(lte(loads.pickupFrom, new Date(q.pickupTo)));
  if (q.maxWeightLb !== undefined) conds.push(lte(loads.weightLb, q.maxWeightLb));
  if (q.maxLengthFt !== undefined) conds.push(lte(loads.lengthFt, q.maxLengthFt));
  if (q.minRateCents !== undefined) conds.push(gte(loads.rateCents, q.minRateCents));
  if (q.minRatePerMileCents !== undefined) conds.push(gte(loads.ratePerMileCents, q.minRatePerMileCents));
  if (q.shipperOrgId) conds.push(eq(loads.shipperOrgId, q.shipperOrgId));
  const deadhead = origin
    ? sql<number>`earth_distance(${earth(q.originLat, q.originLng)}, ${earth(loads.originLat, loads.originLng)}) / ${METERS_PER_MILE}`
    : sql<null>`null`;
  if (q.sort === 'deadhead' && !origin)
    throw new HttpError(400, 'sort=deadhead needs originLat, originLng and originRadiusMi');
  const rows = await db
    .select({ load: loads, deadheadMi: deadhead })
    .from(loads)
    .where(and(...conds))
    .orderBy(...(q.sort === 'deadhead' ? [asc(deadhead), asc(loads.id)] : SORTS[q.sort]))
    .limit(q.limit)
    .offset(q.offset);
  res.json({
    items: rows.map((r) =>
      summaryOf(r.load, r.deadheadMi === null ? null : Math.round(Number(r.deadheadMi) * 10) / 10),
    ),
    nextOffset: rows.length === q.limit ? q.offset + q.limit : null,
  });
});

const idParam = z.object({ id: z.uuid() });

app.get('/loads/:id', authenticate, async (req, res) => {
  const user = (req as Authed).user;
  const { id } = idParam.parse(req.params);
  const load = await db.query.loads.findFirst({
    where: eq(loads.id, id),
    with: { events: { orderBy: [asc(loadEvents.at), asc(loadEvents.id)] } },
  });
  const staff = user.roles.includes('admin') || user.roles.includes('auditor');
  if (
    !load ||
    (!staff && load.status !== 'posted' && load.shipperOrgId !== user.orgId && load.carrierOrgId !== user.orgId)
  )
    throw new HttpError(404, 'No such load');
  const { events, ...row } = load;
  res.json({
    ...summaryOf(row),
    history: events.map((e) => ({ status: e.status, at: e.at.toISOString(), actorId: e.actorId })),
  });
});

app.post('/loads/:id/book', authenticate, async (req, res) => {
  const user = requireRole(req, CARRIER_SIDE);
  const { id } = idParam.parse(req.params);
  const { carrierId } = z.object({ carrierId: z.uuid() }).parse(req.body);
  const now = new Date();
  const [carrier] = await db
    .select()
    .from(carriers)
    .where(and(eq(carriers.id, carrierId), eq(carriers.orgId, user.orgId)))
    .limit(1);
  if (!carrier) throw new HttpError(404, 'No such carrier');
  if (!carrier.verified || (carrier.insuranceExpiresAt && carrier.insuranceExpiresAt < now))
    throw new HttpError(409, 'The carrier is not verified and insured');
  const booked = await db.transaction(async (tx) => {
    const [load] = await tx.select().from(loads).where(eq(loads.id, id)).for('update');
    if (!load || (load.status !== 'posted' && load.shipperOrgId !== user.orgId && load.carrierOrgId !== user.orgId))
      throw new HttpError(404, 'No such load');
    if (load.status !== 'posted') throw new HttpError(409, `The load is ${load.status}`);
    const [updated] = await tx
      .update(loads)
      .set({
        status: 'booked',
        carrierId,
        carrierOrgId: user.orgId,
        bookedRateCents: load.rateCents,
        bookedAt: now,
        updatedAt: now,
        version: sql`${loads.version} + 1`,
      })
      .where(eq(loads.id, id))
      .returning();
    await tx.insert(loadEvents).values({ loadId: id, status: 'booked', at: now, actorId: user.id });
    return updated!;
  });
  const summary = summaryOf(booked);
  io.to('board').emit('load', summary);
  io.to(`load:${id}`).emit('load', summary);
  res.status(202).json({ loadId: id, status: 'booked', version: booked.version });
});

const HAULING = ['assigned', 'picked_up', 'in_transit'];
const pingsBody = z.object({ loadId: z.uuid().optional(), pings: z.array(z.unknown()).min(1).max(500) });

app.post('/tracking/pings', authenticate, async (req, res) => {
  const user = requireRole(req, ['driver']);
  const body = pingsBody.parse(req.body);
  const now = new Date();
  const { good, rejected } = checkPings(body.pings, now, DEFAULT_PING_LIMITS);
  if (good.length === 0) return problem(res, 422, 'No ping in the batch is acceptable', { rejected });
  const hauled = await db
    .select({ id: loads.id })
    .from(loads)
    .where(
      and(
        eq(loads.driverId, user.id),
        inArray(loads.status, HAULING),
        body.loadId ? eq(loads.id, body.loadId) : undefined,
      ),
    )
    .limit(2);
  if (hauled.length === 0) throw new HttpError(409, 'You are not hauling that load');
  if (hauled.length > 1) throw new HttpError(400, 'Name the load: you haul several');
  const loadId = hauled[0]!.id;
  await db
    .insert(pings)
    .values(
      good.map((p) => ({
        id: p.pingId,
        loadId,
        driverId: user.id,
        lat: p.lat,
        lng: p.lng,
        speedMph: p.speedMph,
        headingDeg: p.headingDeg ?? null,
        accuracyM: p.accuracyM ?? null,
        recordedAt: p.recordedAt,
        receivedAt: now,
      })),
    )
    .onConflictDoNothing();
  const last = good.reduce((a, b) => (b.recordedAt > a.recordedAt ? b : a));
  const fix = {
    lat: last.lat,
    lng: last.lng,
    speedMph: last.speedMph,
    headingDeg: last.headingDeg ?? null,
    recordedAt: last.recordedAt.toISOString(),
  };
  await redis
    .multi()
    .hset(`trk:load:${loadId}`, { ...fix, recordedAt: last.recordedAt.getTime() })
    .geoadd('trk:geo', last.lng, last.lat, loadId)
    .exec();
  io.to(`tracking:${loadId}`).emit('location', { loadId, fix });
  res.status(202).json({ loadId, accepted: good.length, rejected });
});

app.use((_req, res) => {
  problem(res, 404, 'Not found');
});
app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
  if (err instanceof HttpError) return problem(res, err.status, err.message);
  if (err instanceof ZodError) return problem(res, 400, 'Invalid request', { errors: err.issues });
  const status = (err as { status?: number }).status;
  if (status && status >= 400 && status < 500) return problem(res, status, 'Bad request');
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  return problem(res, 500, 'Internal error');
});

// Dashboards: a verified token, then rooms by name.
io.use(async (socket, next) => {
  try {
    await jwtVerify(String(socket.handshake.auth.token ?? ''), key, {
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      algorithms: ['HS256'],
    });
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});
io.on('connection', (socket) => {
  socket.on('subscribe', async (m: { room?: unknown }, ack?: (r: object) => void) => {
    if (typeof m?.room !== 'string') return ack?.({ ok: false });
    await socket.join(m.room);
    ack?.({ ok: true });
  });
});

server.listen(env.PORT, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
const stop = () => {
  void io.close();
  server.close(() => void Promise.all([pool.end(), redis.quit()]).then(() => process.exit(0)));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
