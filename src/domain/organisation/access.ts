import { isAdmin } from '../shared/actor.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { OrganisationCommand } from './commands.js';
import type { OrganisationState } from './state.js';

/**
 * Who may act on an organisation, decided before the decider runs. An organisation is seen by its
 * own members and by staff; anyone else is refused (403) before anything about it is looked at, as a
 * read of it is, so an outsider cannot tell one that exists from one that does not.
 */
export function authorize(command: OrganisationCommand, state: OrganisationState, orgId: string): void {
  const { actor } = command.metadata;
  if (
    command.type === 'RegisterOrganisation' ||
    command.type === 'SuspendOrganisation' ||
    command.type === 'ReinstateOrganisation'
  ) {
    if (!isAdmin(actor)) throw new Forbidden('only an admin registers, suspends or reinstates an organisation');
  } else if (!isAdmin(actor) && actor.orgId !== orgId) {
    throw new Forbidden('Only members of the organisation may do this');
  }
  if (command.type === 'RegisterOrganisation') return;
  if (state.status === 'none') throw new NotFound(`No organisation ${orgId}`);
  switch (command.type) {
    case 'AddUser':
    case 'ChangeUserRoles':
    case 'DeactivateUser':
      if (!isAdmin(actor) && !actor.roles.includes('dispatcher'))
        throw new Forbidden("only an admin or the organisation's dispatcher manages its users");
      return;
    case 'SetBillingAccount':
      if (!isAdmin(actor) && !actor.roles.includes('dispatcher') && !actor.roles.includes('shipper')) {
        throw new Forbidden("only an admin or the organisation's own staff set its billing account");
      }
      return;
    case 'SuspendOrganisation':
    case 'ReinstateOrganisation':
      return;
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}
