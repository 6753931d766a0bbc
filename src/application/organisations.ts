import * as organisation from '../domain/organisation/decider.js';
import { type OrganisationEvent, organisationEvents } from '../domain/organisation/events.js';
import { organisationStream } from '../domain/organisation/stream.js';
import { isAdmin } from '../domain/shared/actor.js';
import { RuleViolation } from '../domain/shared/errors.js';
import type { EventStore } from '../eventstore/types.js';
import { Aggregate } from './aggregate.js';
import type { HandleResult } from './handle.js';
import type { Invocation, Unsent } from './invocation.js';

type Command<T extends organisation.OrganisationCommand['type']> = Extract<
  Unsent<organisation.OrganisationCommand>,
  { type: T }
>;

export interface OrganisationLookups {
  /** Whether the user id belongs to an organisation other than `orgId` (the organisations read model). */
  userBelongsElsewhere(userId: string, orgId: string): Promise<boolean>;
}

/** Organisations and their users: every command of the organisation stream, and its state. */
export class OrganisationService {
  private readonly aggregate: Aggregate<
    organisation.OrganisationCommand,
    OrganisationEvent,
    organisation.OrganisationState
  >;

  constructor(
    store: EventStore,
    private readonly options: { platformOrgId: string; lookups: OrganisationLookups },
  ) {
    this.aggregate = new Aggregate(store, {
      stream: organisationStream,
      registry: organisationEvents,
      decider: organisation,
    });
  }

  state(orgId: string): Promise<organisation.OrganisationState> {
    return this.aggregate.state(orgId);
  }

  /** A shipper's Stripe billing account, as its organisation's stream says now. */
  async billingAccountOf(orgId: string): Promise<{ stripeCustomerId: string; paymentMethodId: string } | undefined> {
    const state = await this.state(orgId);
    return state.status === 'none' ? undefined : state.billing;
  }

  register(data: Command<'RegisterOrganisation'>['data'], by: Invocation): Promise<HandleResult<OrganisationEvent>> {
    // The operator's own organisation is not registered: its staff are vouched for by the identity provider.
    if (data.orgId === this.options.platformOrgId)
      throw new RuleViolation('reserved-org-id', "This id is the platform operator's own organisation");
    return this.aggregate.run(data.orgId, { type: 'RegisterOrganisation', data }, by);
  }

  async addUser(
    orgId: string,
    data: Command<'AddUser'>['data'],
    by: Invocation,
  ): Promise<HandleResult<OrganisationEvent>> {
    // A user id is one person's, in one organisation: another organisation's id (they show in load
    // histories) would take that user over. The read model may lag a concurrent add; the
    // projections then keep the user where it was added first.
    // Asked only for an organisation the caller may manage: anyone else gets the decider's 403 first.
    const mine = isAdmin(by.actor) || by.actor.orgId === orgId;
    if (mine && (await this.options.lookups.userBelongsElsewhere(data.userId, orgId))) {
      throw new RuleViolation(
        'user-id-taken',
        `User ${data.userId} belongs to another organisation: leave userId out to get a new one`,
      );
    }
    return this.aggregate.run(orgId, { type: 'AddUser', data }, by);
  }

  /** Every other command of the organisation: no lookup needed before deciding. */
  run(
    orgId: string,
    command: Command<
      'SetBillingAccount' | 'ChangeUserRoles' | 'DeactivateUser' | 'SuspendOrganisation' | 'ReinstateOrganisation'
    >,
    by: Invocation,
  ): Promise<HandleResult<OrganisationEvent>> {
    return this.aggregate.run(orgId, command, by);
  }
}
