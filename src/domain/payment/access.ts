import { type Actor, isAdmin, isStaff } from '../shared/actor.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { PaymentCommand } from './commands.js';
import type { PaymentState } from './state.js';

/** Who sees a payment: staff, and the shipper and carrier organisations it settles between. */
export function paymentVisibleTo(actor: Actor, state: PaymentState): boolean {
  if (state.status === 'none') return false;
  return (
    isStaff(actor) || actor.orgId === state.settlement.shipperOrgId || actor.orgId === state.settlement.carrierOrgId
  );
}

/**
 * Who may act on a payment, decided before the decider runs: a payment the actor may not see (or
 * none) is a 404 whatever its state; the carrier asks for QuickPay; admins refund, write off and
 * close. The provider's and the platform's own commands (invoices, charges, payouts, disputes) are
 * checked by the decider, which takes them from the platform only.
 */
export function authorize(command: PaymentCommand, state: PaymentState, paymentId: string): void {
  const { actor } = command.metadata;
  switch (command.type) {
    case 'RequestQuickPay':
    case 'IssueRefund':
    case 'WriteOff':
    case 'ClosePayment':
      break;
    default:
      return;
  }
  if (state.status === 'none' || !paymentVisibleTo(actor, state)) throw new NotFound(`No payment ${paymentId}`);
  if (isAdmin(actor)) return;
  if (command.type === 'RequestQuickPay') {
    if (actor.orgId !== state.settlement.carrierOrgId)
      throw new Forbidden("only the carrier's own organisation may ask for QuickPay");
    return;
  }
  throw new Forbidden('only an admin does this to a payment');
}
