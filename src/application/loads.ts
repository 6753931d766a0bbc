import type { LoadCommand } from '../domain/load/commands.js';
import * as load from '../domain/load/decider.js';
import { mayActAs, mustSee } from '../domain/load/access.js';
import { type LoadEvent, loadEvents } from '../domain/load/events.js';
import type { LocationPolicy, TruckFix } from '../domain/load/location.js';
import { loadStream } from '../domain/load/stream.js';
import { NotFound, RuleViolation } from '../domain/shared/errors.js';
import type { EventStore } from '../eventstore/types.js';
import { Aggregate } from './aggregate.js';
import type { CarrierService } from './carriers.js';
import type { HandleResult } from './handle.js';
import type { Invocation, Unsent } from './invocation.js';
import type { OrganisationService } from './organisations.js';

type Command<T extends LoadCommand['type']> = Extract<Unsent<LoadCommand>, { type: T }>;
type Result = Promise<HandleResult<LoadEvent>>;

export interface LoadLookups {
  carriers: Pick<CarrierService, 'standing'>;
  organisations: Pick<OrganisationService, 'state'>;
  /** The assigned truck's last GPS fix (the latest-location cache), checked at pickup. */
  lastFix(loadId: string): Promise<TruckFix | undefined>;
  /** The geofence and fix age that pickups and arrivals are checked against. */
  locationPolicy: LocationPolicy;
}

/**
 * Loads, from posting to delivery. Each command first settles who may act (the read's 404 before
 * any other lookup), then gathers what the decider needs from other aggregates (a carrier's
 * standing, the carrier's drivers, the truck's last fix), then decides.
 */
export class LoadService {
  private readonly aggregate: Aggregate<LoadCommand, LoadEvent, load.LoadState>;

  constructor(
    store: EventStore,
    private readonly lookups: LoadLookups,
  ) {
    this.aggregate = new Aggregate(store, { stream: loadStream, registry: loadEvents, decider: load });
  }

  state(loadId: string, upTo?: bigint): Promise<load.LoadState> {
    return this.aggregate.state(loadId, upTo);
  }

  /** The load as the actor may see it: the read's 404 first, before any other lookup a command makes. */
  async visible(loadId: string, by: Invocation): Promise<load.LoadState> {
    const state = await this.state(loadId);
    mustSee(by.actor, state, loadId);
    return state;
  }

  async post(data: Command<'PostLoad'>['data'], by: Invocation): Result {
    const command: LoadCommand = { type: 'PostLoad', data, metadata: { now: by.now ?? new Date(), actor: by.actor } };
    // Who may post it first (for another organisation: 403; an id taken by another's load: 404 or
    // 403), then whether the organisation posts loads at all: a registered shipper or broker.
    load.authorize(command, await this.state(data.loadId), data.loadId);
    const org = await this.lookups.organisations.state(data.shipperOrgId);
    if (org.status === 'none' || org.kind === 'carrier')
      throw new RuleViolation('not-a-shipper', 'shipperOrgId must be a registered shipper or broker organisation');
    return this.aggregate.run(data.loadId, { type: 'PostLoad', data }, by);
  }

  async placeBid(
    loadId: string,
    bid: { bidId: string; carrierId: string; amountCents: number },
    by: Invocation,
  ): Result {
    await this.visible(loadId, by);
    const carrier = await this.lookups.carriers.standing(bid.carrierId);
    return this.aggregate.run(
      loadId,
      { type: 'PlaceBid', data: { bidId: bid.bidId, carrier, amountCents: bid.amountCents } },
      by,
    );
  }

  /** Books the load to the bidding carrier at the bid's amount, with the carrier's standing now. */
  async acceptBid(loadId: string, bidId: string, by: Invocation): Result {
    const state = await this.visible(loadId, by);
    mayActAs(by.actor, state, 'shipper');
    const bid = 'posting' in state ? state.posting.bids.find((b) => b.bidId === bidId) : undefined;
    const carrierId =
      bid?.carrierId ?? ('booking' in state && state.booking.bidId === bidId ? state.booking.carrierId : undefined);
    if (!carrierId) throw new NotFound(`No bid ${bidId} on load ${loadId}`);
    const carrier = await this.lookups.carriers.standing(carrierId);
    return this.aggregate.run(loadId, { type: 'AcceptBid', data: { bidId, carrier } }, by);
  }

  async bookNow(loadId: string, carrierId: string, by: Invocation): Result {
    await this.visible(loadId, by);
    const carrier = await this.lookups.carriers.standing(carrierId);
    return this.aggregate.run(loadId, { type: 'BookNow', data: { carrier } }, by);
  }

  async assignDriver(loadId: string, data: Command<'AssignDriver'>['data'], by: Invocation): Result {
    const state = await this.visible(loadId, by);
    mayActAs(by.actor, state, 'hauler');
    // Who drives is one of the carrier's own drivers (its organisation's stream says so now), not
    // anyone's id: another organisation's driver could then follow the load, and nobody could track it.
    const carrierOrgId = 'booking' in state ? state.booking.carrierOrgId : undefined;
    const org = carrierOrgId ? await this.lookups.organisations.state(carrierOrgId) : undefined;
    const driver = org && org.status !== 'none' ? org.users[data.driverId] : undefined;
    if (carrierOrgId && (!driver?.active || !driver.roles.includes('driver'))) {
      throw new RuleViolation(
        'not-a-driver',
        `User ${data.driverId} is not an active driver of the carrier's organisation`,
      );
    }
    return this.aggregate.run(loadId, { type: 'AssignDriver', data }, by);
  }

  /** Checked against the assigned truck's last fix: none, a stale one or one off the site flags the pickup for review. */
  async confirmPickup(loadId: string, by: Invocation): Result {
    const fix = await this.lookups.lastFix(loadId);
    const data = {
      ...(fix ? { truckFix: { lat: fix.lat, lng: fix.lng, recordedAt: fix.recordedAt } } : {}),
      policy: this.lookups.locationPolicy,
    };
    return this.aggregate.run(loadId, { type: 'ConfirmPickup', data }, by);
  }

  /** The geofence reactor saw the truck at a site (it decided so with the same policy first). */
  recordArrival(loadId: string, data: Command<'RecordArrival'>['data'], by: Invocation): Result {
    return this.aggregate.run(loadId, { type: 'RecordArrival', data }, by);
  }

  /** Every other command of the load: no lookup needed before deciding. */
  run(
    loadId: string,
    command: Command<
      'ReviseLoad' | 'WithdrawBid' | 'MarkInTransit' | 'DeliverLoad' | 'CancelLoad' | 'ReleaseBooking' | 'ExpireLoad'
    >,
    by: Invocation,
  ): Result {
    return this.aggregate.run(loadId, command, by);
  }
}
