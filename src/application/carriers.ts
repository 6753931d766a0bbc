import type { CarrierCommand } from '../domain/carrier/commands.js';
import * as carrier from '../domain/carrier/decider.js';
import type { CarrierStanding } from '../domain/carrier/eligibility.js';
import { type CarrierEvent, carrierEvents } from '../domain/carrier/events.js';
import { outcomeOf } from '../domain/carrier/performance.js';
import { carrierStream } from '../domain/carrier/stream.js';
import type { LoadEvent } from '../domain/load/events.js';
import type { LoadState } from '../domain/load/state.js';
import { IllegalTransition, RuleViolation } from '../domain/shared/errors.js';
import type { EventStore } from '../eventstore/types.js';
import { Aggregate } from './aggregate.js';
import type { HandleResult } from './handle.js';
import type { Invocation, Unsent } from './invocation.js';
import type { OrganisationService } from './organisations.js';

type Command<T extends CarrierCommand['type']> = Extract<Unsent<CarrierCommand>, { type: T }>;

/** Carriers: registration, verification, standing, payouts and performance, on the carrier stream. */
export class CarrierService {
  private readonly aggregate: Aggregate<CarrierCommand, CarrierEvent, carrier.CarrierState>;

  constructor(
    store: EventStore,
    private readonly organisations: Pick<OrganisationService, 'state'>,
  ) {
    this.aggregate = new Aggregate(store, { stream: carrierStream, registry: carrierEvents, decider: carrier });
  }

  state(carrierId: string, upTo?: bigint): Promise<carrier.CarrierState> {
    return this.aggregate.state(carrierId, upTo);
  }

  /** A carrier's standing as its own stream says now (not a read model: eligibility must not lag). */
  async standing(carrierId: string): Promise<CarrierStanding> {
    const s = carrier.standingOf(await this.state(carrierId));
    if (!s) throw new RuleViolation('unknown-carrier', `No carrier ${carrierId} is registered`);
    return s;
  }

  /** A carrier's Stripe Connect account, as its stream says now. */
  async payoutAccountOf(carrierId: string): Promise<string | undefined> {
    const state = await this.state(carrierId);
    return state.status === 'none' ? undefined : state.payoutAccount;
  }

  async register(data: Command<'RegisterCarrier'>['data'], by: Invocation): Promise<HandleResult<CarrierEvent>> {
    const command = {
      type: 'RegisterCarrier',
      data,
      metadata: { now: by.now ?? new Date(), actor: by.actor },
    } as const;
    // Who may register it first (403), then whether the organisation is a registered carrier one.
    carrier.authorize(command, await this.state(data.carrierId), data.carrierId);
    const org = await this.organisations.state(data.orgId);
    if (org.status === 'none' || org.kind !== 'carrier')
      throw new RuleViolation('not-a-carrier', 'orgId must be a registered carrier organisation');
    return this.aggregate.run(data.carrierId, { type: 'RegisterCarrier', data }, by);
  }

  /** Every other command of the carrier: no lookup needed before deciding. */
  run(
    carrierId: string,
    command: Command<
      | 'RecordVerification'
      | 'ChangeMcNumber'
      | 'LinkPayoutAccount'
      | 'ExpireInsurance'
      | 'SuspendCarrier'
      | 'ReinstateCarrier'
    >,
    by: Invocation,
  ): Promise<HandleResult<CarrierEvent>> {
    return this.aggregate.run(carrierId, command, by);
  }

  /**
   * Records a delivery or a released booking as an outcome on the carrier's stream, which updates
   * its score. `before` is the load as it stood just before the event (its booking and delivery
   * window). Idempotent when the invocation's key derives from the load event: the carrier decider
   * counts an outcome once.
   */
  async recordOutcome(before: LoadState, event: LoadEvent, by: Invocation): Promise<'recorded' | 'nothing to score'> {
    const outcome = outcomeOf(before, event);
    if (!outcome) return 'nothing to score';
    try {
      await this.aggregate.run(
        outcome.carrierId,
        { type: 'RecordLoadOutcome', data: { loadId: outcome.loadId, outcome: outcome.outcome } },
        by,
      );
      return 'recorded';
    } catch (err) {
      // A booking always names a registered carrier; should history say otherwise, there is
      // nobody to score, and retrying would not change that.
      if (!(err instanceof IllegalTransition)) throw err;
      return 'nothing to score';
    }
  }
}
