import type { Knex } from 'knex';
import type { Role } from '../../domain/shared/actor.js';
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

/** Whom a message is for: one user, or an organisation's users who hold any of `roles`. */
export type Recipients = { userId: string } | { orgId: string; roles: Role[] };

export interface Address {
  email: string;
  /** Only where the user gave one. */
  phone: string | null;
}

/** The addresses of the active users `to` names. */
export async function addressesOf(knex: Knex, to: Recipients): Promise<Address[]> {
  const q = knex('org_users').where({ active: true }).select<Address[]>('email', 'phone');
  if ('userId' in to) q.where({ user_id: to.userId });
  else q.where({ org_id: to.orgId }).whereRaw('roles && ?::text[]', [to.roles]);
  return q;
}
