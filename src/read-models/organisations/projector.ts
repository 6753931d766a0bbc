import type { Knex } from 'knex';
import { type OrganisationEvent, organisationEvents } from '../../domain/organisation/events.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { PostgresProjector, TableNames } from '../../projections/types.js';
import { ORGANISATION_STREAM } from '../../domain/organisation/stream.js';
import { ORG_USERS, ORGANISATIONS } from './schema.js';

// Where readers of the rows have found them.
export type { OrganisationRow, OrgUserRow } from './schema.js';

/**
 * Organisations and their users, for `GET /orgs/:id`, the shipper names on the load board and the
 * fallback of the cached active-principal check. Each row carries the org stream revision that
 * last wrote it; a write with an older revision changes nothing, so replays are harmless.
 */
export const organisationsProjector: PostgresProjector = {
  kind: 'postgres',
  name: 'organisations',
  version: 3,
  eventTypes: organisationEvents.types(),
  streamPrefixes: [ORGANISATION_STREAM],
  tables: [ORGANISATIONS.name, ORG_USERS.name],

  async setup(trx: Knex.Transaction, t: TableNames) {
    await ORGANISATIONS.create(trx, t);
    await ORG_USERS.create(trx, t);
  },

  async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames) {
    const orgs = t('organisations');
    const users = t('org_users');
    for (const e of events) {
      const event = { type: e.type, data: organisationEvents.decode(e) } as OrganisationEvent;
      const revision = e.revision.toString();
      const orgId = e.streamId.slice(ORGANISATION_STREAM.length);
      const newer = (table: string) => (q: Knex.QueryBuilder) => q.where(`${table}.revision`, '<', revision);
      switch (event.type) {
        case 'OrganisationRegistered': {
          const { name, kind, registeredAt } = event.data;
          const row = {
            org_id: event.data.orgId,
            name,
            kind,
            status: 'active',
            revision,
            registered_at: registeredAt,
            updated_at: registeredAt,
          };
          await trx(orgs).insert(row).onConflict('org_id').merge().where(`${orgs}.revision`, '<', revision);
          break;
        }
        case 'OrganisationSuspended':
        case 'OrganisationReinstated': {
          const status = event.type === 'OrganisationSuspended' ? 'suspended' : 'active';
          const at = event.type === 'OrganisationSuspended' ? event.data.suspendedAt : event.data.reinstatedAt;
          await trx(orgs).where({ org_id: orgId }).modify(newer(orgs)).update({ status, revision, updated_at: at });
          break;
        }
        case 'UserAdded': {
          const { userId, email, name, roles, phone, addedAt } = event.data;
          const row = {
            user_id: userId,
            org_id: orgId,
            email,
            phone: phone ?? null,
            name,
            roles,
            active: true,
            revision,
            added_at: addedAt,
            updated_at: addedAt,
          };
          // A user id belongs to the organisation that added it first (in log order): another
          // organisation adding the same id later takes nothing over (it was refused, or lost a race).
          await trx(users)
            .insert(row)
            .onConflict('user_id')
            .merge()
            .where(`${users}.org_id`, orgId)
            .andWhere(`${users}.revision`, '<', revision);
          break;
        }
        case 'UserRolesChanged':
          await trx(users)
            .where({ user_id: event.data.userId, org_id: orgId })
            .modify(newer(users))
            .update({ roles: event.data.roles, revision, updated_at: event.data.changedAt });
          break;
        case 'UserDeactivated':
          await trx(users)
            .where({ user_id: event.data.userId, org_id: orgId })
            .modify(newer(users))
            .update({ active: false, revision, updated_at: event.data.deactivatedAt });
          break;
        case 'BillingAccountSet':
          await trx(orgs)
            .where({ org_id: orgId })
            .modify(newer(orgs))
            .update({ stripe_customer_id: event.data.stripeCustomerId, revision, updated_at: event.data.setAt });
          break;
        default: {
          const unknown: never = event;
          throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
        }
      }
    }
  },
};
