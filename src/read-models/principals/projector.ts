import type { ActivePrincipals } from '../../auth/principals.js';
import { type OrganisationEvent, organisationEvents } from '../../domain/organisation/events.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { AtLeastOnceProjector } from '../../projections/types.js';
import { ORGANISATION_STREAM } from '../../domain/organisation/stream.js';

/**
 * Keeps the Redis active-principal cache in step with the organisation events: a deactivated
 * user or a suspended organisation is refused on its next request. Every event gives the whole
 * state of the user or organisation it touches, written only if newer: at-least-once is safe.
 */
export function principalsProjector(principals: ActivePrincipals): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'principals',
    version: 1,
    eventTypes: organisationEvents.types(),
    streamPrefixes: [ORGANISATION_STREAM],

    async apply(events: readonly RecordedEvent[]) {
      // Each write carries its revision and loses to a newer one, so they may go out together.
      await Promise.all(events.map((e) => write(e)));
    },
  };

  async function write(e: RecordedEvent): Promise<void> {
    const event = { type: e.type, data: organisationEvents.decode(e) } as OrganisationEvent;
    const orgId = e.streamId.slice(ORGANISATION_STREAM.length);
    switch (event.type) {
      case 'OrganisationRegistered':
      case 'OrganisationReinstated':
        return principals.recordOrg(orgId, 'active', e.revision);
      case 'OrganisationSuspended':
        return principals.recordOrg(orgId, 'suspended', e.revision);
      case 'UserAdded':
      case 'UserRolesChanged':
        // The decider changes roles of active users only.
        return principals.recordUser(event.data.userId, { orgId, active: true, roles: event.data.roles }, e.revision);
      case 'UserDeactivated':
        return principals.recordUser(event.data.userId, { orgId, active: false, roles: [] }, e.revision);
      case 'BillingAccountSet':
        return; // who may act is unchanged
      default: {
        const unknown: never = event;
        throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
      }
    }
  }
}
