/**
 * The conventional peer's database, filled with the same data as ours: the organisations, users,
 * carriers, loads and status histories of our read models, copied row for row (COPY out of ours,
 * COPY into it), then indexed and analyzed, as a set-up script would leave it.
 */
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { dropDatabase, ensureDatabase } from '../../src/infra/db.js';
import { CREATE_INDEXES, CREATE_TABLES } from './schema.js';

/** Each target table and the query of our read models that fills it, column for column. */
const COPIES: { table: string; columns: string; from: string }[] = [
  {
    table: 'organisations',
    columns: 'id, name, kind, active',
    from: `select org_id, name, kind, status = 'active' from organisations`,
  },
  {
    table: 'users',
    columns: 'id, org_id, email, name, roles, active',
    from: `select u.user_id, u.org_id, u.email, u.name, u.roles, u.active
             from org_users u join organisations o using (org_id)`,
  },
  {
    table: 'carriers',
    columns: 'id, org_id, usdot_number, legal_name, verified, insurance_expires_at',
    from: `select c.carrier_id, c.org_id, c.usdot_number, c.legal_name, c.verified, c.insurance_expires_at
             from carrier_directory c join organisations o using (org_id)`,
  },
  {
    table: 'loads',
    columns: `id, shipper_org_id, shipper_name, reference, commodity, description, weight_lb, length_ft, equipment_type,
      load_size, origin_address, origin_city, origin_state, origin_zip, origin_lat, origin_lng, dest_address, dest_city,
      dest_state, dest_zip, dest_lat, dest_lng, pickup_from, pickup_to, delivery_from, delivery_to, rate_cents, currency,
      trip_miles, rate_per_mile_cents, tarps, hazmat, twic, team_drivers, status, carrier_id, carrier_org_id,
      booked_rate_cents, driver_id, truck_id, posted_at, booked_at, updated_at, version`,
    from: `select load_id, shipper_org_id, shipper_name, reference, commodity, description, weight_lb, length_ft,
      equipment_type, load_size, origin_address, origin_city, origin_state, origin_zip, origin_lat, origin_lng,
      dest_address, dest_city, dest_state, dest_zip, dest_lat, dest_lng, pickup_from, pickup_to, delivery_from,
      delivery_to, rate_cents, currency, trip_miles, rate_per_mile_cents, tarps, hazmat, twic, team_drivers, status,
      carrier_id, carrier_org_id, booked_rate_cents, driver_id, truck_id, posted_at, booked_at, updated_at,
      revision + 1 from load_board`,
  },
  {
    table: 'load_events',
    columns: 'load_id, status, at',
    from: `select h.load_id, h.status, h.at from load_status_history h join load_board b using (load_id)
             order by h.load_id, h.revision`,
  },
];

/**
 * Drops and creates `dbName` on the server of `adminUrl` and fills it from the read models at
 * `oursUrl`. Returns its URL and how many loads it holds.
 */
export async function setupConventional(
  adminUrl: string,
  dbName: string,
  oursUrl: string,
): Promise<{ url: string; loads: number }> {
  await dropDatabase(adminUrl, dbName);
  const url = await ensureDatabase(adminUrl, dbName);
  const source = new pg.Client({ connectionString: oursUrl });
  const target = new pg.Client({ connectionString: url });
  await source.connect();
  await target.connect();
  try {
    await target.query(CREATE_TABLES);
    for (const c of COPIES) {
      await pipeline(
        source.query(copyTo(`copy (${c.from}) to stdout`)),
        target.query(copyFrom(`copy ${c.table} (${c.columns}) from stdin`)),
      );
    }
    await target.query(`select setval('load_events_id_seq', (select coalesce(max(id), 1) from load_events))`);
    await target.query("set maintenance_work_mem = '256MB'");
    await target.query(CREATE_INDEXES);
    await target.query('vacuum analyze');
    const n = (await target.query<{ n: number }>('select count(*)::int as n from loads')).rows[0]!.n;
    return { url, loads: n };
  } finally {
    await source.end();
    await target.end();
  }
}
