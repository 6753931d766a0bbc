import { parseArgs } from 'node:util';
import { auditPayment, type PaymentAudit, paymentIds } from '../application/audit.js';
import { bootstrap } from '../process/runtime.js';
import { fail, startup } from './common.js';

/**
 * `npm run audit -- payment <id>` or `npm run audit -- --all`: replays payment streams from the
 * log, verifies each one's hash chain and that its amounts reconcile after every event, and exits
 * 1 naming the first bad event (0 when every payment checks out).
 */
const USAGE = 'usage: npm run audit -- payment <paymentId> | --all';
const { values, positionals } = parseArgs({
  options: { all: { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (!values.all && !(positionals[0] === 'payment' && positionals[1])) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const { config, logger } = startup();
logger.level = 'warn';

function report(a: PaymentAudit): boolean {
  if (!a.events.length) {
    process.stdout.write(`payment ${a.paymentId}: no such payment\n`);
    return false;
  }
  if (!a.chain.ok) {
    process.stdout.write(
      `payment ${a.paymentId}: TAMPERED at revision ${a.chain.revision}, event ${a.chain.eventId}: ${a.chain.reason}\n`,
    );
    return false;
  }
  if (a.unreconciledAt) {
    const e = a.events.find((x) => x.eventId === a.unreconciledAt)!;
    process.stdout.write(
      `payment ${a.paymentId}: amounts do not reconcile after revision ${e.revision}, event ${e.eventId} (${e.type})\n`,
    );
    return false;
  }
  const last = a.events[a.events.length - 1]!.stateAfter;
  process.stdout.write(
    `payment ${a.paymentId}: ok, ${a.events.length} events, chain head ${a.chain.head?.slice(0, 16)}…, ${last.stage}, ${last.amountCents} cents\n`,
  );
  return true;
}

async function main() {
  const runtime = await bootstrap(config, logger);
  try {
    const ids = values.all ? await paymentIds(runtime.store) : [positionals[1]!];
    let bad = 0;
    for (const id of ids) if (!report(await auditPayment(runtime.store, id))) bad++;
    process.stdout.write(`${ids.length} payment(s) audited, ${bad} failed\n`);
    return bad === 0;
  } finally {
    await runtime.close();
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => fail(logger, err),
);
