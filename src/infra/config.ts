import { z } from 'zod';

const url = (protocols: string[]) =>
  z
    .string()
    .url()
    .refine((v) => protocols.some((p) => v.startsWith(`${p}://`)), {
      message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** `park` / `ledger=stop,*=park` → { '*': 'park' } / { ledger: 'stop', '*': 'park' }. */
export function poisonPolicies(text: string): Record<string, 'stop' | 'park'> {
  const out: Record<string, 'stop' | 'park'> = {};
  for (const part of text.split(',')) {
    const [a, b] = part.split('=').map((x) => x.trim());
    if (b === undefined) out['*'] = a as 'stop' | 'park';
    else out[a!] = b as 'stop' | 'park';
  }
  return out;
}

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: url(['postgres', 'postgresql']).optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(2).max(200).default(10),
  /** A read replica (or a pooler in front of several) for the API's queries; unset: the primary. */
  DATABASE_READ_URL: url(['postgres', 'postgresql']).optional(),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1024).max(65535).optional(),
  REDIS_URL: url(['redis', 'rediss']).optional(),
  REDIS_KEY_PREFIX: z.string().default('freight:'),
  ESDB_URL: url(['esdb', 'esdb+discover', 'kurrentdb', 'kurrentdb+discover', 'kdb', 'kdb+discover']).optional(),
  MEILI_URL: url(['http', 'https']).optional(),
  MEILI_API_KEY: z.string().min(1).optional(),
  /** Run each projector in one process at a time (a Postgres advisory-lock lease); others stand by and take over. */
  PROJECTOR_LEASES: bool.default(true),
  PROJECTOR_LEASE_RETRY_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
  PROJECTION_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /**
   * What a projector does with an event it cannot apply, overriding each projector's own choice
   * (the ledger stops, the others park): `park`, `stop`, or per projector, `ledger=park,load_board=stop,*=park`.
   */
  PROJECTION_POISON_POLICY: z
    .string()
    .regex(
      /^\s*(?:(?:[a-z_][a-z0-9_]*|\*)\s*=\s*)?(?:stop|park)\s*(?:,\s*(?:(?:[a-z_][a-z0-9_]*|\*)\s*=\s*)?(?:stop|park)\s*)*$/,
      {
        message: 'must be stop, park, or a list like ledger=stop,*=park',
      },
    )
    .transform((v) => poisonPolicies(v))
    .optional(),
  SUBSCRIPTION_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  /** A request's line and headers must arrive within this (slow clients are cut off: 408). */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(20_000),
  /** A whole request, body included, must arrive within this. */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  /** An idle kept-alive connection is closed after this. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(5_000),
  /** Largest request line and headers (431 past it). */
  HTTP_MAX_HEADER_BYTES: z.coerce.number().int().min(4_096).max(1_048_576).default(16_384),
  EVENTSTORE_GROUP_COMMIT: bool.default(true),
  /** HS256 secret for bearer tokens (at least 32 characters); or JWT_JWKS_URL for an identity provider's keys. */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_JWKS_URL: url(['http', 'https']).optional(),
  JWT_ISSUER: z.string().min(1).default('freight-backend'),
  JWT_AUDIENCE: z.string().min(1).default('freight-api'),
  /** Longest lifetime a token may have (from its iat, or from now, to its exp); longer ones, and ones without exp, are refused. */
  JWT_MAX_LIFETIME_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
  /** The platform operator's own organisation: its staff hold the admin and auditor roles. */
  PLATFORM_ORG_ID: z.uuid().default('00000000-0000-4000-8000-000000000001'),
  /** How long a command's first answer is kept for retries with the same Idempotency-Key. */
  IDEMPOTENCY_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(24 * 3600),
  /** Longest a query with ?minPosition= waits for the read model to catch up. */
  MIN_POSITION_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  /** Longest a shared load-board page is served from memory (0: off); a board change ends it sooner. */
  BOARD_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** Committed events waiting longer than this for subscribers: /ready says degraded, and a warning names why. */
  DELIVERY_HOLD_WARN_MS: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
  /** How often each process looks at what holds delivery back. */
  DELIVERY_WATCH_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /** Pings older than this are refused (a phone that was offline sends what is still useful). */
  TRACKING_MAX_PING_AGE_HOURS: z.coerce
    .number()
    .min(1)
    .max(24 * 30)
    .default(72),
  /** How far ahead of the server's clock a phone's may run. */
  TRACKING_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(3_600).default(120),
  /** Faster than this is a bad fix, not a truck. */
  TRACKING_MAX_SPEED_MPH: z.coerce.number().min(10).max(300).default(110),
  /** A truck within this many miles of a pickup or delivery site is there. */
  GEOFENCE_RADIUS_MI: z.coerce.number().min(0.05).max(50).default(0.5),
  /** A truck's last fix older than this does not show where it is when pickup is confirmed. */
  PICKUP_FIX_MAX_AGE_MINUTES: z.coerce
    .number()
    .min(1)
    .max(24 * 60)
    .default(15),
  /** Dashboards hear of a truck's location at most once per this many ms (the newest is kept). */
  REALTIME_LOCATION_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** How often an open Socket.IO connection's token and account are checked again (revoked ones are disconnected). */
  REALTIME_RECHECK_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  /** GPS pings are deleted this many days after they were recorded (the loads keep who hauled them). */
  TRACKING_RETENTION_DAYS: z.coerce.number().min(1).max(3_650).default(90),
  /** The FMCSA QCMobile API; without a webKey no verification runs and requests wait in their queue. */
  FMCSA_BASE_URL: url(['http', 'https']).default('https://mobile.fmcsa.dot.gov/qc/services'),
  FMCSA_WEB_KEY: z.string().min(1).optional(),
  /** Carrier checks per second across all workers (FMCSA publishes no limit: be gentle). Each makes up to 4 calls. */
  FMCSA_PER_SECOND: z.coerce.number().min(0.1).max(1_000).default(2),
  FMCSA_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** Attempts per call, with exponential backoff and jitter, before the job itself is retried. */
  FMCSA_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** Consecutive failed calls that open the circuit, and how long it stays open. */
  FMCSA_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1_000).default(5),
  FMCSA_BREAKER_OPEN_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** Answers are reused for this long (0: never). */
  FMCSA_CACHE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(3_600),
  /** The register gives no insurance end date: coverage seen is trusted this long (beyond the daily re-check). */
  FMCSA_INSURANCE_TRUST_HOURS: z.coerce
    .number()
    .min(1)
    .max(24 * 30)
    .default(48),
  /** When the daily re-check of every carrier runs (cron, UTC); "off" to not schedule it. */
  CARRIER_RECHECK_CRON: z.string().min(1).default('0 3 * * *'),
  /** Attempts of a job before it goes to the dead-letter (failed) state; the first retry waits JOB_BACKOFF_MS, doubling. */
  JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  JOB_BACKOFF_MS: z.coerce.number().int().min(10).max(3_600_000).default(2_000),
  /** How often postings past their end are expired. */
  LOAD_EXPIRY_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  /** The platform's fee on a load, in basis points of its rate (500 = 5%). */
  PLATFORM_FEE_BPS: z.coerce.number().int().min(0).max(5_000).default(500),
  /** Standard carrier payout terms: days after delivery. */
  CARRIER_PAYOUT_TERMS_DAYS: z.coerce.number().int().min(0).max(120).default(30),
  /** QuickPay (paid within a day): a fee in basis points of the carrier's payable, with a minimum in cents. */
  QUICKPAY_FEE_BPS: z.coerce.number().int().min(0).max(5_000).default(300),
  QUICKPAY_MIN_FEE_CENTS: z.coerce.number().int().min(0).max(1_000_000).default(2_500),
  /** Stripe: without a secret key no payments worker runs (charges and payouts wait in their queue). */
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_(test|live)_/, 'a Stripe secret key (sk_test_… or sk_live_…)')
    .optional(),
  /** Where the Stripe client sends requests, for a local stand-in; unset: api.stripe.com. */
  STRIPE_API_HOST: z.string().min(1).optional(),
  STRIPE_API_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  STRIPE_API_PROTOCOL: z.enum(['http', 'https']).optional(),
  /** The signing secret of the Stripe webhook endpoint; unset: POST /webhooks/stripe is not served. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** How old a webhook signature's timestamp may be (replay protection). */
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(300),
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(20_000),
  /** The Stripe client's own retries of a failed request (same idempotency key, backoff with jitter). */
  STRIPE_NETWORK_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  STRIPE_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1_000).default(5),
  STRIPE_BREAKER_OPEN_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** Declined charges and refused transfers are tried this many times, the first retry after PAYMENT_RETRY_MS (doubling), then flagged for review. */
  PAYMENT_CHARGE_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
  PAYMENT_PAYOUT_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
  PAYMENT_RETRY_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 24 * 3_600_000)
    .default(3_600_000),
  /** Requests per minute: per IP address (all), and per user by kind (the rest, GPS pings, payments, the load board). 0: no limit. */
  RATE_LIMIT_PER_IP: z.coerce.number().int().min(0).max(1_000_000).default(1_200),
  RATE_LIMIT_PER_USER: z.coerce.number().int().min(0).max(1_000_000).default(600),
  RATE_LIMIT_GPS: z.coerce.number().int().min(0).max(1_000_000).default(240),
  RATE_LIMIT_PAYMENTS: z.coerce.number().int().min(0).max(1_000_000).default(120),
  RATE_LIMIT_LOADBOARD: z.coerce.number().int().min(0).max(1_000_000).default(600),
  /** How many proxies in front are trusted to set X-Forwarded-For (the client address for rate limits and logs); 0: none. */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(5).default(0),
  /** Origins allowed to call the API from a browser (comma-separated); unset: no CORS headers. */
  CORS_ORIGINS: z.string().min(1).optional(),
  /** Tracing (OpenTelemetry) is on when one of these names an OTLP/HTTP collector: the traces URL itself, or the base URL (`/v1/traces` is added). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url(['http', 'https']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http', 'https']).optional(),
  /** Headers for the collector, `key=value` pairs separated by commas (e.g. an API key). */
  OTEL_EXPORTER_OTLP_HEADERS: z
    .string()
    .regex(/^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/, 'must be key=value pairs separated by commas')
    .optional(),
  /** The service name on spans (default: freight- and the roles this process runs). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Share of new traces recorded, 0 to 1 (a caller's sampled traceparent is always followed). */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /** Notifications of events older than this are dropped (a reactor replaying history must not mail everyone). */
  NOTIFICATION_MAX_AGE_HOURS: z.coerce
    .number()
    .min(0.01)
    .max(24 * 30)
    .default(24),
});

/** The geofence and freshness rules of the location checks, from the configuration. */
export function locationPolicy(config: Pick<Config, 'GEOFENCE_RADIUS_MI' | 'PICKUP_FIX_MAX_AGE_MINUTES'>): {
  geofenceMi: number;
  maxFixAgeMs: number;
} {
  return { geofenceMi: config.GEOFENCE_RADIUS_MI, maxFixAgeMs: config.PICKUP_FIX_MAX_AGE_MINUTES * 60_000 };
}

export type Config = z.infer<typeof configSchema>;

/** Outside production a fixed development secret keeps `npm start` + `npm run token` working with no set-up. */
export const DEV_JWT_SECRET = 'development-only-secret-do-not-use-in-production';

/** The token settings in force: production must name its own secret or identity provider. */
export function jwtSettings(config: Config): {
  secret?: string;
  jwksUrl?: string;
  issuer: string;
  audience: string;
  maxLifetimeSeconds: number;
} {
  const {
    JWT_SECRET,
    JWT_JWKS_URL,
    JWT_ISSUER: issuer,
    JWT_AUDIENCE: audience,
    JWT_MAX_LIFETIME_SECONDS: maxLifetimeSeconds,
  } = config;
  if (JWT_JWKS_URL) return { jwksUrl: JWT_JWKS_URL, issuer, audience, maxLifetimeSeconds };
  if (JWT_SECRET) return { secret: JWT_SECRET, issuer, audience, maxLifetimeSeconds };
  if (config.NODE_ENV === 'production') {
    throw new ConfigError([{ variable: 'JWT_SECRET', message: 'set JWT_SECRET or JWT_JWKS_URL in production' }]);
  }
  return { secret: DEV_JWT_SECRET, issuer, audience, maxLifetimeSeconds };
}

/** The HTTP server's limits on slow and oversized requests. */
export function serverLimits(config: Config) {
  return {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxHeaderBytes: config.HTTP_MAX_HEADER_BYTES,
  };
}

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`Invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; an unknown or malformed value names its variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "not set", as in docker-compose files with `FOO=`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })));
  }
  jwtSettings(parsed.data);
  return parsed.data;
}

/** The OTLP traces URL when tracing is configured. */
export function otlpTracesUrl(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT'>,
): string | undefined {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** `a=1,b=2` as a header object. */
export function otlpHeaders(value: string | undefined): Record<string, string> | undefined {
  if (!value) return undefined;
  return Object.fromEntries(
    value.split(',').map((pair) => {
      const at = pair.indexOf('=');
      return [decodeURIComponent(pair.slice(0, at).trim()), decodeURIComponent(pair.slice(at + 1).trim())];
    }),
  );
}
