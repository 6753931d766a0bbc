import { col, defineTable, type RowOf } from '../../projections/sql/table.js';

/** One row per carrier: verification state, insurance and score, for brokers and shippers choosing one. */
export const CARRIER_DIRECTORY = defineTable('carrier_directory', {
  carrier_id: col.uuid().primary(),
  revision: col.int8(),
  org_id: col.uuid().index(),
  usdot_number: col.text().index(),
  mc_number: col.text().nullable(),
  legal_name: col.text(),
  equipment: col.textArray(),
  home_city: col.text(),
  home_state: col.text(),
  home_lat: col.float8(),
  home_lng: col.float8(),
  status: col.text<'active' | 'suspended'>(),
  verified: col.bool(),
  allowed_to_operate: col.bool().nullable(),
  out_of_service: col.bool().nullable(),
  authority_status: col.text().nullable(),
  insurance_on_file: col.bool().nullable(),
  insurance_expires_at: col.timestamptz().nullable(),
  insurance_expired: col.bool(),
  verification_gaps: col.textArray(),
  checked_at: col.timestamptz().nullable(),
  on_time: col.int4(),
  late: col.int4(),
  cancelled: col.int4(),
  score: col.int4(),
  registered_at: col.timestamptz(),
  updated_at: col.timestamptz(),
});
export type CarrierRow = RowOf<typeof CARRIER_DIRECTORY.spec>;
