/**
 * What the end-to-end benchmarks share: the service started as its own process on a fresh
 * database, API calls that wait out 503s and lost races, and a fleet set up through the API (a
 * shipper, a verified carrier, one driver and one booked, assigned load per truck).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { mintToken } from '../src/auth/tokens.js';
import { type Config, DEV_JWT_SECRET, loadConfig } from '../src/infra/config.js';
import { dropDatabase, ensureDatabase } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { type ServiceEndpoints, startServices } from '../src/infra/services.js';

export async function inParallel<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

export interface Service {
  base: string;
  databaseUrl: string;
  pid: number;
  config: Config;
  services: ServiceEndpoints;
  prefix: string;
  sign(userId: string, orgId: string, roles: ('admin' | 'shipper' | 'carrier' | 'driver')[]): Promise<string>;
  call(tok: string, p: string, body: object): Promise<Record<string, string>>;
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Extra Node flags for the service's process, from BENCH_SERVICE_NODE_ARGS (e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof`: flags NODE_OPTIONS refuses).
 */
export const serviceNodeArgs = (): string[] => (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** The service (all roles) in its own process on a fresh database; a single load generator, so no rate limits. */
export async function startService(
  dbName: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = serviceNodeArgs(),
  opts: { keep?: boolean } = {},
): Promise<Service> {
  const logger = createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty', NODE_ENV: 'development' });
  const config = loadConfig({ ...process.env, NODE_ENV: 'development' });
  const services = await startServices(config, logger);
  // `keep`: a database prepared beforehand (seeded, its read models caught up), used as it is.
  if (!opts.keep) await dropDatabase(services.databaseUrl, dbName);
  const databaseUrl = await ensureDatabase(services.databaseUrl, dbName);
  const prefix = `bench:${dbName}:${randomUUID().slice(0, 8)}:`;
  const root = path.resolve(import.meta.dirname, '..');
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(root, 'src/cli/serve.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL: services.redisUrl,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMIT_PER_IP: '0',
        RATE_LIMIT_PER_USER: '0',
        RATE_LIMIT_GPS: '0',
        RATE_LIMIT_LOADBOARD: '0',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
        NODE_ENV: 'development',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // A failing run must not leave the service behind.
  process.on('exit', () => child.kill('SIGKILL'));
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      for (const line of out.split('\n'))
        if (line.includes('"message":"listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before listening`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    databaseUrl,
    pid: child.pid!,
    config,
    services,
    prefix,
    sign: (userId, orgId, roles) =>
      mintToken(
        { secret: DEV_JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
        { userId, orgId, roles },
      ),
    async call(tok, p, body) {
      for (;;) {
        const res = await fetch(`${base}${p}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const json = (await res.json()) as Record<string, string>;
        // 503: not ready yet; 409: lost a race on a busy stream more often than the server retries.
        if (res.status === 503 || res.status === 409) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        if (res.status >= 300) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
        return json;
      }
    },
    async settle() {
      for (;;) {
        const r = (await (await fetch(`${base}/ready`)).json()) as { projections?: { eventsBehind: number }[] };
        if (r.projections?.every((x) => x.eventsBehind === 0)) return;
        await new Promise((res) => setTimeout(res, 200));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await services.stop();
    },
  };
}

export interface Fleet {
  admin: string;
  shipper: string;
  shipperOrg: string;
  carrier: string;
  carrierOrg: string;
  carrierId: string;
  drivers: string[];
  driverTokens: string[];
  loads: string[];
}

export const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

export function loadBody(shipperOrg: string, i: number) {
  const lat = 29 + (i % 100) * 0.05;
  const lng = -98 + (Math.floor(i / 100) % 500) * 0.05;
  return {
    shipperOrgId: shipperOrg,
    reference: `B-${i}-${randomUUID().slice(0, 6)}`,
    commodity: 'Crushed stone',
    description: 'Bench load',
    weightLb: 40_000,
    lengthFt: 40,
    equipmentType: 'flatbed',
    loadSize: 'full',
    origin: { address: '1 Quarry Rd', city: 'Somewhere', state: 'TX', zip: '75001', lat, lng },
    destination: { address: '2 Site Rd', city: 'Elsewhere', state: 'TX', zip: '75002', lat: lat + 1, lng: lng + 1 },
    pickupWindow: { from: day(1), to: day(2) },
    deliveryWindow: { from: day(2), to: day(3) },
    rateCents: 150_000,
  };
}

/** Through the API: a shipper, a verified carrier, and per truck a driver and a booked, assigned load. */
export async function setupFleet(s: Service, trucks: number): Promise<Fleet> {
  const admin = await s.sign(randomUUID(), s.config.PLATFORM_ORG_ID, ['admin']);
  await s.settle();
  const shipperOrg = (await s.call(admin, '/orgs', { name: 'Bench Aggregates', kind: 'shipper' })).orgId!;
  const carrierOrg = (await s.call(admin, '/orgs', { name: 'Bench Haulers', kind: 'carrier' })).orgId!;
  const shipperUser = (
    await s.call(admin, `/orgs/${shipperOrg}/users`, { email: 'ship@bench.example', name: 'Ship', roles: ['shipper'] })
  ).userId!;
  const carrierUser = (
    await s.call(admin, `/orgs/${carrierOrg}/users`, { email: 'disp@bench.example', name: 'Disp', roles: ['carrier'] })
  ).userId!;
  const drivers: string[] = new Array(trucks);
  // Users of one organisation share its stream (which grows with each): two writers at a time.
  await inParallel([...Array(trucks).keys()], 2, async (i) => {
    drivers[i] = (
      await s.call(admin, `/orgs/${carrierOrg}/users`, {
        email: `driver${i}@bench.example`,
        name: `Driver ${i}`,
        roles: ['driver'],
      })
    ).userId!;
  });
  await s.settle();
  const shipper = await s.sign(shipperUser, shipperOrg, ['shipper']);
  const carrier = await s.sign(carrierUser, carrierOrg, ['carrier']);
  const carrierId = (
    await s.call(carrier, '/carriers', {
      orgId: carrierOrg,
      usdotNumber: '1234567',
      legalName: 'Bench Haulers LLC',
      equipment: ['flatbed'],
      homeBase: { city: 'Houston', state: 'TX', lat: 29.76, lng: -95.37 },
    })
  ).carrierId!;
  await s.call(admin, `/carriers/${carrierId}/verifications`, {
    allowedToOperate: true,
    outOfService: false,
    authorityStatus: 'active',
    insurance: { onFile: true, expiresAt: day(365) },
  });
  const loads: string[] = new Array(trucks);
  await inParallel([...Array(trucks).keys()], 16, async (i) => {
    const loadId = (await s.call(shipper, '/loads', loadBody(shipperOrg, i))).loadId!;
    await s.call(carrier, `/loads/${loadId}/book`, { carrierId });
    await s.call(carrier, `/loads/${loadId}/assignment`, { driverId: drivers[i], truckId: `T-${i}` });
    loads[i] = loadId;
  });
  await s.settle();
  const driverTokens = await Promise.all(drivers.map((d) => s.sign(d, carrierOrg, ['driver'])));
  return { admin, shipper, shipperOrg, carrier, carrierOrg, carrierId, drivers, driverTokens, loads };
}
