import { type Actor, isAdmin, isStaff, type Role } from '../shared/actor.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { LoadCommand } from './commands.js';
import type { LoadState } from './state.js';

/** Roles that see the open board: every posted load, whoever posted it. */
export const BOARD_ROLES: readonly Role[] = ['carrier', 'driver', 'dispatcher'];

export const seesBoard = (actor: Actor) => actor.roles.some((r) => BOARD_ROLES.includes(r));

/** The facts visibility depends on, as the log and the board's read model both hold them. */
export interface LoadParties {
  readonly status: string;
  readonly shipperOrgId: string;
  /** The carrier organisation that has (or, for a cancelled load, had) it booked. */
  readonly carrierOrgId?: string | undefined;
}

/**
 * Who sees a load: staff every load; its shipper's and its carrier's organisations theirs; the
 * board roles every posted load. The board's queries apply the same rule in SQL (visibleTo).
 */
export function loadVisibleTo(actor: Actor, load: LoadParties): boolean {
  if (isStaff(actor)) return true;
  if (actor.orgId === load.shipperOrgId || (load.carrierOrgId !== undefined && actor.orgId === load.carrierOrgId))
    return true;
  return load.status === 'posted' && seesBoard(actor);
}

export function partiesOf(state: LoadState): LoadParties | undefined {
  if (state.status === 'none') return undefined;
  const carrierOrgId =
    'booking' in state ? state.booking.carrierOrgId : state.status === 'cancelled' ? state.bookedBy : undefined;
  return { status: state.status, shipperOrgId: state.posting.shipperOrgId, carrierOrgId };
}

/** The read's 404 for a load that does not exist or that the actor may not see: the two look alike. */
export function mustSee(actor: Actor, state: LoadState, loadId: string): void {
  const parties = partiesOf(state);
  if (!parties || !loadVisibleTo(actor, parties)) throw new NotFound(`No load ${loadId}`);
}

/** The side a command belongs to. */
export type LoadParty = 'shipper' | 'carrier' | 'hauler';

/**
 * Whether the actor may act for `party` on a load it can see: the shipper's organisation; a
 * carrier's own organisation (`carrierOrgId`: the carrier the command names); the booked (or, for a
 * load cancelled while booked, the last booked) carrier's organisation. Admins act for everyone.
 */
export function mayActAs(actor: Actor, state: LoadState, party: LoadParty, carrierOrgId?: string): void {
  const parties = partiesOf(state);
  if (isAdmin(actor) || !parties) return;
  switch (party) {
    case 'shipper':
      if (actor.orgId !== parties.shipperOrgId)
        throw new Forbidden('only the shipper that posted the load may do this');
      return;
    case 'carrier':
      if (actor.orgId !== carrierOrgId) throw new Forbidden('a carrier bids and books for its own organisation only');
      return;
    case 'hauler':
      // With no booking (yet, or any more) there is no one to haul it: a 403 for all, never a 409
      // that would tell another organisation what state the load is in.
      if (parties.carrierOrgId === undefined || actor.orgId !== parties.carrierOrgId)
        throw new Forbidden("only the booked carrier's organisation may do this");
      // A driver (with no office role) hauls the loads assigned to them, not their colleagues'.
      if (
        !actor.roles.some((r) => r === 'carrier' || r === 'dispatcher') &&
        !('assignment' in state && state.assignment.driverId === actor.userId)
      ) {
        throw new Forbidden("only the driver assigned to the load (or the carrier's office) may do this");
      }
      return;
    default: {
      const unknown: never = party;
      throw new Error(`Unknown party ${String(unknown)}`);
    }
  }
}

/**
 * Who may act on a load, decided before the decider runs and whatever the load's state: an actor
 * who may not see the load gets the 404 a read gives (never a 409 or a 202 that tells it
 * something); one who sees it but is not the party the command belongs to gets a 403. What the
 * state allows is the decider's to say, after this.
 */
export function authorize(command: LoadCommand, state: LoadState, loadId: string): void {
  const { actor } = command.metadata;
  switch (command.type) {
    case 'ExpireLoad':
    case 'RecordArrival':
      // Sent by the platform (jobs, reactors); the expiry route is for admins only.
      return;
    case 'PostLoad':
      if (!isAdmin(actor) && actor.orgId !== command.data.shipperOrgId)
        throw new Forbidden('a shipper posts loads for its own organisation only');
      // An id already taken: by a load the actor cannot see, the read's 404; by one it sees but is
      // not its own, a 403; its own, the decider's 409.
      if (state.status !== 'none') {
        mustSee(actor, state, loadId);
        mayActAs(actor, state, 'shipper');
      }
      return;
    default:
      break;
  }
  mustSee(actor, state, loadId);
  switch (command.type) {
    case 'ReviseLoad':
    case 'CancelLoad':
    case 'AcceptBid':
      return mayActAs(actor, state, 'shipper');
    case 'PlaceBid':
    case 'BookNow':
      return mayActAs(actor, state, 'carrier', command.data.carrier.orgId);
    case 'WithdrawBid': {
      if (isAdmin(actor)) return;
      if (actor.orgId === partiesOf(state)!.shipperOrgId)
        throw new Forbidden('only the carrier that placed a bid withdraws it');
      // Another carrier's bid is not the actor's to see: it looks like no bid at all.
      const bid = 'posting' in state ? state.posting.bids.find((b) => b.bidId === command.data.bidId) : undefined;
      if (!bid || bid.carrierOrgId !== actor.orgId)
        throw new NotFound(`No bid ${command.data.bidId} on load ${loadId}`);
      return;
    }
    case 'AssignDriver':
    case 'ConfirmPickup':
    case 'MarkInTransit':
    case 'DeliverLoad':
    case 'ReleaseBooking':
      return mayActAs(actor, state, 'hauler');
    default: {
      const unknown: never = command;
      throw new Error(`Unknown command ${(unknown as { type: string }).type}`);
    }
  }
}
