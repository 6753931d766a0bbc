import type { Knex } from 'knex';
import { type LoadEvent, loadEvents } from '../../domain/load/events.js';
import { OrganisationRegistered, organisationEvents } from '../../domain/organisation/events.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { ApplyContext, PostgresProjector, TableNames } from '../../projections/types.js';
import { columns, copyRows, upsertRows } from '../../projections/sql/rows.js';
import { cellSql } from './cells.js';
import { BOARD_COLUMNS, type BoardRow, evolveRow, type HistoryRow, statusAfter } from './row.js';
import { ORGANISATION_STREAM } from '../../domain/organisation/stream.js';
import { LOAD_STREAM } from '../../domain/load/stream.js';

const HISTORY_COLUMNS = columns<HistoryRow>({ load_id: 'uuid', revision: 'int8', event_type: 'text', status: 'text', at: 'timestamptz', actor: 'text' });


/**
 * The load board: one denormalized row per load (shipper name, bid counts, status, booking),
 * plus each load's status history. Every write is guarded by the load stream's revision, so a
 * replayed batch changes nothing; several events of one load in a batch make one row write.
 * Indexes were chosen from EXPLAIN on 1,000,000 loads (`npm run bench:loadboard` prints the slowest plan).
 */
export const loadBoardProjector: PostgresProjector = {
  kind: 'postgres',
  name: 'load_board',
  // 2: arrivals at the sites, the review flag, each row's global position. 4: grid-cell indexes.
  version: 4,
  eventTypes: [...loadEvents.types(), OrganisationRegistered.type],
  streamPrefixes: [LOAD_STREAM, ORGANISATION_STREAM],
  tables: ['load_board', 'load_status_history', 'lb_shippers'],

  async setup(trx: Knex.Transaction, t: TableNames) {
    const board = t('load_board');
    await trx.schema.createTable(board, (table) => {
      table.uuid('load_id').primary();
      table.bigInteger('revision').notNullable();
      table.text('status').notNullable();
      table.uuid('shipper_org_id').notNullable();
      table.text('shipper_name');
      for (const c of ['reference', 'commodity', 'description']) table.text(c).notNullable();
      table.integer('weight_lb').notNullable();
      table.double('length_ft').notNullable();
      table.text('equipment_type').notNullable();
      table.text('load_size').notNullable();
      for (const p of ['origin', 'dest']) {
        for (const c of ['address', 'city', 'state', 'zip']) table.text(`${p}_${c}`).notNullable();
        table.double(`${p}_lat`).notNullable();
        table.double(`${p}_lng`).notNullable();
      }
      for (const c of ['pickup_from', 'pickup_to', 'delivery_from', 'delivery_to']) table.timestamp(c, { useTz: true }).notNullable();
      table.integer('rate_cents').notNullable();
      table.text('currency').notNullable();
      table.integer('trip_miles').notNullable();
      table.boolean('trip_miles_estimated').notNullable();
      table.integer('rate_per_mile_cents').notNullable();
      for (const c of ['tarps', 'hazmat', 'twic', 'team_drivers']) table.boolean(c).notNullable();
      table.integer('open_bids').notNullable();
      table.integer('bid_count').notNullable();
      table.uuid('carrier_id');
      table.uuid('carrier_org_id');
      table.integer('booked_rate_cents');
      table.uuid('driver_id');
      table.text('truck_id');
      table.timestamp('posted_at', { useTz: true }).notNullable();
      table.timestamp('expires_at', { useTz: true }).notNullable();
      for (const c of ['booked_at', 'picked_up_at', 'delivered_at', 'arrived_pickup_at', 'arrived_delivery_at', 'flagged_at']) table.timestamp(c, { useTz: true });
      table.text('review_reason');
      table.decimal('pos_commit', 20, 0).notNullable();
      table.decimal('pos_prepare', 20, 0).notNullable();
      table.timestamp('updated_at', { useTz: true }).notNullable();
    });
    await trx.schema.createTable(t('load_status_history'), (table) => {
      table.uuid('load_id').notNullable();
      table.bigInteger('revision').notNullable();
      table.text('event_type').notNullable();
      table.text('status').notNullable();
      table.timestamp('at', { useTz: true }).notNullable();
      table.text('actor');
      table.primary(['load_id', 'revision']);
    });
    await trx.schema.createTable(t('lb_shippers'), (table) => {
      table.uuid('org_id').primary();
      table.text('name').notNullable();
    });
  },

  async indexes(db: Knex | Knex.Transaction, t: TableNames) {
    const board = t('load_board');
    const index = (name: string, def: string) => db.raw(`create index if not exists ?? on ?? ${def}`, [`${board}_${name}`, board]);
    // The board's queries filter posted loads and page by a sort key; each sort has its own
    // partial index ending in load_id (the keyset tie-breaker), scanned in either direction.
    const posted = `where status = 'posted'`;
    for (const key of ['pickup_from', 'rate_cents', 'rate_per_mile_cents', 'trip_miles', 'posted_at']) {
      await index(`${key}_posted`, `(${key}, load_id) ${posted}`);
    }
    // A buffered GiST build: 15 s instead of 20–23 s over a million loads (the b-trees take about a second each).
    await index('origin_geo_posted', `using gist (ll_to_earth(origin_lat, origin_lng)) with (buffering = on) ${posted}`);
    await index('dest_geo_posted', `using gist (ll_to_earth(dest_lat, dest_lng)) with (buffering = on) ${posted}`);
    // Radius queries in pickup order read grid cell by cell (query.ts, radiusCells).
    await index('origin_cell_pickup_posted', `(${cellSql('origin')}, pickup_from, load_id) ${posted}`);
    await index('dest_cell_pickup_posted', `(${cellSql('dest')}, pickup_from, load_id) ${posted}`);
    await index('origin_state_posted', `(origin_state, pickup_from, load_id) ${posted}`);
    // The load-expiry job asks which postings are due.
    await index('expires_at_posted', `(expires_at) ${posted}`);
    await index('equipment_posted', `(equipment_type, pickup_from, load_id) ${posted}`);
    await index('shipper', `(shipper_org_id, posted_at)`);
    await index('carrier', `(carrier_org_id, posted_at) where carrier_org_id is not null`);
    // Dashboards that reconnect ask for what changed after the last position they saw.
    await index('position', `(pos_commit, pos_prepare)`);
  },

  async apply(trx: Knex.Transaction, events: readonly RecordedEvent[], t: TableNames, ctx?: ApplyContext) {
    const board = t('load_board');
    const shippers = new Map<string, string>();
    const byLoad = new Map<string, RecordedEvent[]>();
    for (const e of events) {
      if (e.streamId.startsWith(ORGANISATION_STREAM)) {
        const d = organisationEvents.decode<{ orgId: string; name: string }>(e);
        shippers.set(d.orgId, d.name);
      } else {
        const list = byLoad.get(e.streamId.slice(LOAD_STREAM.length));
        if (list) list.push(e);
        else byLoad.set(e.streamId.slice(LOAD_STREAM.length), [e]);
      }
    }
    if (shippers.size) {
      const rows = [...shippers].map(([org_id, name]) => ({ org_id, name }));
      await trx(t('lb_shippers')).insert(rows).onConflict('org_id').merge();
      for (const { org_id, name } of rows) await trx(board).where({ shipper_org_id: org_id }).whereNull('shipper_name').update({ shipper_name: name });
    }
    if (byLoad.size === 0) return;

    // Rows to start from: loads posted in this batch start empty; the rest are read once.
    const existing = new Map<string, BoardRow>();
    const toRead = [...byLoad].filter(([, es]) => es[0]!.revision !== 0n).map(([id]) => id);
    if (toRead.length) {
      const { rows } = await trx.raw<{ rows: BoardRow[] }>('select * from ?? where load_id = any(?::uuid[])', [board, toRead]);
      for (const r of rows) existing.set(r.load_id, { ...r, revision: String(r.revision) });
    }
    const decoded = new Map<string, { e: RecordedEvent; event: LoadEvent }[]>();
    const orgIds = new Set<string>();
    for (const [id, es] of byLoad) {
      const list = es.map((e) => ({ e, event: { type: e.type, data: loadEvents.decode(e) } as LoadEvent }));
      decoded.set(id, list);
      for (const { event } of list) if (event.type === 'LoadPosted' && !shippers.has(event.data.shipperOrgId)) orgIds.add(event.data.shipperOrgId);
    }
    if (orgIds.size) {
      for (const r of await trx(t('lb_shippers')).whereIn('org_id', [...orgIds]).select<{ org_id: string; name: string }[]>()) shippers.set(r.org_id, r.name);
    }

    const changed: BoardRow[] = [];
    const created: BoardRow[] = [];
    const history: HistoryRow[] = [];
    for (const [id, list] of decoded) {
      let row = existing.get(id);
      const start = row;
      for (const { e, event } of list) {
        if (row && e.revision <= BigInt(row.revision)) continue; // applied before
        const shipperName = event.type === 'LoadPosted' ? (shippers.get(event.data.shipperOrgId) ?? null) : null;
        row = evolveRow(row, event, e.revision, e.createdAt, shipperName, e.position);
        const status = statusAfter(event);
        if (row && status) {
          history.push({ load_id: id, revision: e.revision.toString(), event_type: e.type, status, at: e.createdAt, actor: typeof e.metadata.actor === 'string' ? e.metadata.actor : null });
        }
      }
      if (row && row !== start) (ctx?.rebuilding && !start ? created : changed).push(row);
    }
    // A rebuild bulk-loads the loads and history rows it creates; live batches upsert, guarded by revision.
    if (ctx?.rebuilding) {
      await copyRows(trx, board, BOARD_COLUMNS, created);
      await copyRows(trx, t('load_status_history'), HISTORY_COLUMNS, history);
    } else {
      await upsertRows(trx, t('load_status_history'), HISTORY_COLUMNS, history, { key: ['load_id', 'revision'], onConflict: 'ignore' });
    }
    await upsertRows(trx, board, BOARD_COLUMNS, changed, { key: ['load_id'], onConflict: 'update', guard: { column: 'revision', op: '<' } });
  },
};
