import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { parseArgs } from 'node:util';
import { mintToken } from '../auth/tokens.js';
import { ROLES, type Role } from '../domain/shared/actor.js';
import { jwtSettings } from '../infra/config.js';
import { startup } from './common.js';

/**
 * `npm run token -- --role admin` mints a development token (HS256, JWT_SECRET or the development
 * secret). Platform staff (admin, auditor) belong to PLATFORM_ORG_ID and need nothing else; other
 * roles name a user of an organisation registered through the API: `--org <id> --user <id>`.
 */
const USAGE = 'usage: npm run token -- --role <role>[,<role>] [--org <orgId>] [--user <userId>] [--expires 12h]';
function refuse(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}
function args() {
  try {
    return parseArgs({
      options: {
        role: { type: 'string', multiple: true },
        org: { type: 'string' },
        user: { type: 'string' },
        expires: { type: 'string', default: '12h' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    // An unknown option or a missing value: one line and the usage, not a stack.
    refuse((err as Error).message);
  }
}
const values = args();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const { config } = startup();
const settings = jwtSettings(config);

const roles = (values.role ?? []).flatMap((r) => r.split(',')).filter(Boolean);
const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
const staffOnly = roles.every((r) => r === 'admin' || r === 'auditor');
if (!roles.length) refuse('Give at least one --role');
if (bad.length) refuse(`Unknown role(s) ${bad.join(', ')}; roles are ${ROLES.join(', ')}`);
if (!settings.secret)
  refuse('Tokens come from the identity provider when JWT_JWKS_URL is set; this CLI signs with JWT_SECRET only');
if (!staffOnly && (!values.org || !values.user))
  refuse('Roles other than admin and auditor need --org and --user of a registered user');
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
for (const [name, v] of [
  ['--org', values.org],
  ['--user', values.user],
] as const)
  if (v && !uuid.test(v)) refuse(`${name} must be a UUID`);

const principal = {
  userId: values.user ?? randomUUID(),
  orgId: values.org ?? config.PLATFORM_ORG_ID,
  roles: roles as Role[],
};
let token: string;
try {
  token = await mintToken(
    { secret: settings.secret, issuer: settings.issuer, audience: settings.audience },
    principal,
    values.expires,
  );
} catch {
  refuse(`--expires ${values.expires} is not a duration (e.g. 30m, 12h, 1d)`);
}
const { exp, iat } = decodeJwt(token);
if (exp! - iat! > settings.maxLifetimeSeconds) {
  refuse(
    `--expires ${values.expires} is longer than the ${settings.maxLifetimeSeconds} s tokens may live (JWT_MAX_LIFETIME_SECONDS): the API would refuse it`,
  );
}
process.stderr.write(
  `user ${principal.userId}, org ${principal.orgId}, roles ${principal.roles.join(',')}, expires in ${values.expires}\n`,
);
process.stdout.write(`${token}\n`);
