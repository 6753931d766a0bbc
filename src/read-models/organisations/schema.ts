import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

export const ORGANISATIONS = defineTable('organisations', {
  org_id: col.uuid().primary(),
  name: col.text(),
  kind: col.text<'shipper' | 'carrier' | 'broker'>(),
  status: col.text<'active' | 'suspended'>(),
  stripe_customer_id: col.text().nullable(),
  revision: col.int8(),
  registered_at: col.timestamptz(),
  updated_at: col.timestamptz(),
});
export type OrganisationRow = RowOf<typeof ORGANISATIONS.spec>;

export const ORG_USERS = defineTable('org_users', {
  user_id: col.uuid().primary(),
  org_id: col.uuid().index(),
  email: col.text(),
  phone: col.text().nullable(),
  name: col.text(),
  roles: col.textArray(),
  active: col.bool(),
  revision: col.int8(),
  added_at: col.timestamptz(),
  updated_at: col.timestamptz(),
});
export type OrgUserRow = RowOf<typeof ORG_USERS.spec>;
