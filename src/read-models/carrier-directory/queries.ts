import type { Knex } from 'knex';
import type { CarrierRow } from './projector.js';

export interface CarrierFilters {
  /** Home-base state. */
  state?: string;
  equipment?: string;
  verified?: boolean;
  status?: CarrierRow['status'];
  minScore?: number;
  usdotNumber?: string;
  /** Legal name starts with, case-insensitively; taken literally (no wildcards). */
  namePrefix?: string;
}

/** Where a page of the directory starts: strictly after this carrier in (legal name, id) order. */
export interface CarrierKeyset {
  legalName: string;
  carrierId: string;
}

export interface CarrierPage {
  rows: CarrierRow[];
  /** Set when there is a next page. */
  next?: CarrierKeyset;
}

/** LIKE's own characters in a user's text match themselves. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * One page of the directory by legal name, keyset-paginated on (legal_name, carrier_id): no
 * OFFSET scan, and carriers registered while a client pages neither repeat nor shift the pages.
 */
export async function carrierPage(
  knex: Knex,
  f: CarrierFilters,
  page: { after?: CarrierKeyset; limit: number },
): Promise<CarrierPage> {
  const q = knex('carrier_directory').select('*');
  if (f.state) q.where('home_state', f.state);
  if (f.equipment) q.whereRaw('equipment @> array[?]::text[]', [f.equipment]);
  if (f.verified !== undefined) q.where('verified', f.verified);
  if (f.status) q.where('status', f.status);
  if (f.minScore !== undefined) q.where('score', '>=', f.minScore);
  if (f.usdotNumber) q.where('usdot_number', f.usdotNumber);
  if (f.namePrefix) q.whereILike('legal_name', `${likeLiteral(f.namePrefix)}%`);
  if (page.after) q.whereRaw('(legal_name, carrier_id) > (?, ?)', [page.after.legalName, page.after.carrierId]);
  const rows = (await q
    .orderBy([{ column: 'legal_name' }, { column: 'carrier_id' }])
    .limit(page.limit + 1)) as CarrierRow[];
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    rows: shown,
    next: rows.length > page.limit && last ? { legalName: last.legal_name, carrierId: last.carrier_id } : undefined,
  };
}

export async function carrierById(knex: Knex, carrierId: string): Promise<CarrierRow | undefined> {
  return (await knex('carrier_directory').where('carrier_id', carrierId).first()) as CarrierRow | undefined;
}

/**
 * Up to `limit` carrier ids after `after`, in id order: a walk over every carrier that neither
 * repeats nor skips one when carriers register while it runs.
 */
export async function carrierIdsAfter(knex: Knex, after: string, limit: number): Promise<string[]> {
  return knex('carrier_directory')
    .where('carrier_id', '>', after)
    .orderBy('carrier_id')
    .limit(limit)
    .pluck<string[]>('carrier_id');
}
