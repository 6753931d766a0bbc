import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../process/main.js';
import { serve } from './service.js';

// `npm start`: every role in one process, or those named with --role (repeatable, or comma-separated).
const { values } = parseArgs({ options: { role: { type: 'string', multiple: true } } });
const roles = new Set<Role>();
for (const r of (values.role ?? ROLES.slice()).flatMap((v) => v.split(','))) {
  if (!(ROLES as readonly string[]).includes(r)) {
    process.stderr.write(`Unknown role "${r}": use --role ${ROLES.join('|')} (repeatable; default: all)\n`);
    process.exit(2);
  }
  roles.add(r as Role);
}
serve(roles);
