import type { Knex } from 'knex';

/** Whether a user id already belongs to an organisation other than `orgId`. */
export async function userBelongsElsewhere(knex: Knex, userId: string, orgId: string): Promise<boolean> {
  return Boolean(await knex('org_users').where({ user_id: userId }).whereNot({ org_id: orgId }).first('user_id'));
}
