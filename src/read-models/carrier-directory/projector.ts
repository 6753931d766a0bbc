import type { Knex } from 'knex';
import { verificationGaps } from '../../domain/carrier/decider.js';
import { type CarrierEvent, carrierEvents } from '../../domain/carrier/events.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { PostgresProjector, TableNames } from '../../projections/types.js';
import { CARRIER_STREAM } from '../../domain/carrier/stream.js';
import { CARRIER_DIRECTORY, type CarrierRow } from './schema.js';

// The routes have always imported the row from here.
export type { CarrierRow } from './schema.js';

/** Folds one carrier event into its directory row (pure). */
export function evolveCarrierRow(
  row: CarrierRow | undefined,
  e: CarrierEvent,
  revision: bigint,
  at: Date,
): CarrierRow | undefined {
  if (e.type === 'CarrierRegistered') {
    const d = e.data;
    return {
      carrier_id: d.carrierId,
      revision: revision.toString(),
      org_id: d.orgId,
      usdot_number: d.usdotNumber,
      mc_number: d.mcNumber ?? null,
      legal_name: d.legalName,
      equipment: [...d.equipment],
      home_city: d.homeBase.city,
      home_state: d.homeBase.state,
      home_lat: d.homeBase.lat,
      home_lng: d.homeBase.lng,
      status: 'active',
      verified: false,
      allowed_to_operate: null,
      out_of_service: null,
      authority_status: null,
      insurance_on_file: null,
      insurance_expires_at: null,
      insurance_expired: false,
      verification_gaps: ['not verified yet'],
      checked_at: null,
      on_time: 0,
      late: 0,
      cancelled: 0,
      score: 100,
      registered_at: d.registeredAt,
      updated_at: at,
    };
  }
  if (!row) return row;
  const next = { ...row, revision: revision.toString(), updated_at: at };
  switch (e.type) {
    case 'CarrierVerificationRecorded': {
      const v = e.data;
      return {
        ...next,
        verified: v.verified,
        allowed_to_operate: v.allowedToOperate,
        out_of_service: v.outOfService,
        authority_status: v.authorityStatus,
        insurance_on_file: v.insurance.onFile,
        insurance_expires_at: v.insurance.expiresAt ?? null,
        insurance_expired: false,
        verification_gaps: verificationGaps(v),
        checked_at: v.checkedAt,
      };
    }
    case 'CarrierMcNumberChanged':
      return {
        ...next,
        mc_number: e.data.mcNumber,
        verified: false,
        verification_gaps: ['MC number changed: not verified yet'],
      };
    case 'CarrierPayoutAccountLinked':
      return next;
    case 'CarrierInsuranceExpired':
      return {
        ...next,
        insurance_expired: true,
        verification_gaps: [...row.verification_gaps.filter((g) => g !== 'insurance expired'), 'insurance expired'],
      };
    case 'CarrierSuspended':
      return { ...next, status: 'suspended' };
    case 'CarrierReinstated':
      return { ...next, status: 'active' };
    case 'CarrierPerformanceUpdated':
      return { ...next, on_time: e.data.onTime, late: e.data.late, cancelled: e.data.cancelled, score: e.data.score };
    default: {
      const unknown: never = e;
      throw new Error(`Unhandled event ${(unknown as { type: string }).type}`);
    }
  }
}

/** The carrier directory: verification state, insurance and score per carrier. Revision-guarded. */
export const carrierDirectoryProjector: PostgresProjector = {
  kind: 'postgres',
  name: 'carrier_directory',
  version: 1,
  eventTypes: carrierEvents.types(),
  streamPrefixes: [CARRIER_STREAM],
  tables: [CARRIER_DIRECTORY.name],

  async setup(trx: Knex.Transaction, t: TableNames) {
    await CARRIER_DIRECTORY.create(trx, t);
    const table = t(CARRIER_DIRECTORY.name);
    await trx.raw('create index on ?? (legal_name, carrier_id)', [table]);
    await trx.raw('create index on ?? using gin (equipment)', [table]);
  },

  async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames) {
    const table = t('carrier_directory');
    const ids = [...new Set(events.map((e) => e.streamId.slice(CARRIER_STREAM.length)))];
    const rows = new Map<string, CarrierRow>();
    for (const r of await trx(table).whereIn('carrier_id', ids).select<CarrierRow[]>('*'))
      rows.set(r.carrier_id, { ...r, revision: String(r.revision) });
    const changed = new Set<string>();
    for (const e of events) {
      const id = e.streamId.slice(CARRIER_STREAM.length);
      const row = rows.get(id);
      if (row && e.revision <= BigInt(row.revision)) continue;
      const next = evolveCarrierRow(
        row,
        { type: e.type, data: carrierEvents.decode(e) } as CarrierEvent,
        e.revision,
        e.createdAt,
      );
      if (next) {
        rows.set(id, next);
        changed.add(id);
      }
    }
    if (!changed.size) return;
    await trx(table)
      .insert([...changed].map((id) => rows.get(id)!))
      .onConflict('carrier_id')
      .merge()
      .where(`${table}.revision`, '<', trx.raw('excluded.revision'));
  },
};
