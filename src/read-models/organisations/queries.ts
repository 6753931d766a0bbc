import type { Knex } from 'knex';
import type { OrganisationRow, OrgUserRow } from './projector.js';

export interface OrganisationWithUsers {
  organisation: OrganisationRow;
  /** In the order they were added. */
  users: OrgUserRow[];
}

/** An organisation and its users; its users are not read when there is no such organisation. */
export async function organisationWithUsers(knex: Knex, orgId: string): Promise<OrganisationWithUsers | undefined> {
  const organisation = (await knex('organisations').where({ org_id: orgId }).first()) as OrganisationRow | undefined;
  if (!organisation) return undefined;
  const users = (await knex('org_users').where({ org_id: orgId }).orderBy('added_at')) as OrgUserRow[];
  return { organisation, users };
}

/** Whether `userId` is already a member of another organisation than `orgId` (as far as the read model knows yet). */
export async function userBelongsElsewhere(knex: Knex, userId: string, orgId: string): Promise<boolean> {
  const row = await knex('org_users').where({ user_id: userId }).whereNot({ org_id: orgId }).first('user_id');
  return row !== undefined;
}
