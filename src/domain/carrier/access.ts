import { isAdmin } from '../shared/actor.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { CarrierCommand } from './commands.js';
import type { CarrierState } from './state.js';

/**
 * Who may act on a carrier, decided before the decider runs. The directory shows every carrier to
 * every signed-in user, so a carrier that does not exist is the read's 404, and one that exists but
 * is not the actor's to change is a 403, whatever state it is in.
 */
export function authorize(command: CarrierCommand, state: CarrierState, carrierId: string): void {
  const { actor } = command.metadata;
  switch (command.type) {
    case 'RecordLoadOutcome':
      // Sent by the platform's scoring reactor, not over HTTP.
      return;
    case 'RegisterCarrier':
      if (!isAdmin(actor) && actor.orgId !== command.data.orgId)
        throw new Forbidden('a carrier registers for its own organisation only');
      // An id taken by another organisation's carrier is not this one's to register again (403, not the decider's 409).
      if (state.status !== 'none' && !isAdmin(actor) && actor.orgId !== state.profile.orgId)
        throw new Forbidden("this carrier id belongs to another organisation's carrier");
      return;
    default:
      break;
  }
  if (state.status === 'none') throw new NotFound(`No carrier ${carrierId}`);
  switch (command.type) {
    case 'RecordVerification':
    case 'ExpireInsurance':
    case 'SuspendCarrier':
    case 'ReinstateCarrier':
      if (!isAdmin(actor)) throw new Forbidden('only an admin does this to a carrier');
      return;
    case 'ChangeMcNumber':
    case 'LinkPayoutAccount':
      if (!isAdmin(actor) && actor.orgId !== state.profile.orgId)
        throw new Forbidden("only the carrier's own organisation may do this");
      return;
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}
