import type { Knex } from 'knex';
import { type LoadEvent, loadEvents } from '../../domain/load/events.js';
import { OrganisationRegistered, organisationEvents } from '../../domain/organisation/events.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { ApplyContext, PostgresProjector, TableNames } from '../../projections/types.js';
import { copyRows } from '../../projections/sql/copy.js';
import { upsertRows } from '../../projections/sql/rows.js';
import { cellSql } from './cells.js';
import { evolveRow, statusAfter } from './row.js';
import { type BoardRow, type HistoryRow, LB_SHIPPERS, LOAD_BOARD, LOAD_STATUS_HISTORY } from './schema.js';
import { ORGANISATION_STREAM } from '../../domain/organisation/stream.js';
import { LOAD_STREAM } from '../../domain/load/stream.js';

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

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
  tables: [LOAD_BOARD.name, LOAD_STATUS_HISTORY.name, LB_SHIPPERS.name],

  async setup(trx: Knex.Transaction, t: TableNames) {
    for (const table of [LOAD_BOARD, LOAD_STATUS_HISTORY, LB_SHIPPERS]) await table.create(trx, t);
  },

  indexes(t: TableNames) {
    const board = t('load_board');
    const index = (name: string, def: string) =>
      `create index if not exists ${q(`${board}_${name}`)} on ${q(board)} ${def}`;
    const posted = `where status = 'posted'`;
    return [
      // A buffered GiST build: 15 s instead of 20–23 s over a million loads (the b-trees take about a
      // second each). The slowest first: a rebuild builds several at once.
      index('origin_geo_posted', `using gist (ll_to_earth(origin_lat, origin_lng)) with (buffering = on) ${posted}`),
      index('dest_geo_posted', `using gist (ll_to_earth(dest_lat, dest_lng)) with (buffering = on) ${posted}`),
      // The board's queries filter posted loads and page by a sort key; each sort has its own
      // partial index ending in load_id (the keyset tie-breaker), scanned in either direction.
      ...['pickup_from', 'rate_cents', 'rate_per_mile_cents', 'trip_miles', 'posted_at'].map((key) =>
        index(`${key}_posted`, `(${key}, load_id) ${posted}`),
      ),
      // Radius queries in pickup order read grid cell by cell (query.ts, radiusCells).
      index('origin_cell_pickup_posted', `(${cellSql('origin')}, pickup_from, load_id) ${posted}`),
      index('dest_cell_pickup_posted', `(${cellSql('dest')}, pickup_from, load_id) ${posted}`),
      index('origin_state_posted', `(origin_state, pickup_from, load_id) ${posted}`),
      // The load-expiry job asks which postings are due.
      index('expires_at_posted', `(expires_at) ${posted}`),
      index('equipment_posted', `(equipment_type, pickup_from, load_id) ${posted}`),
      index('shipper', `(shipper_org_id, posted_at)`),
      index('carrier', `(carrier_org_id, posted_at) where carrier_org_id is not null`),
      // Dashboards that reconnect ask for what changed after the last position they saw.
      index('position', `(pos_commit, pos_prepare)`),
    ];
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
      for (const { org_id, name } of rows)
        await trx(board).where({ shipper_org_id: org_id }).whereNull('shipper_name').update({ shipper_name: name });
    }
    if (byLoad.size === 0) return;

    // Rows to start from: loads posted in this batch start empty; the rest are read once.
    const existing = new Map<string, BoardRow>();
    const toRead = [...byLoad].filter(([, es]) => es[0]!.revision !== 0n).map(([id]) => id);
    if (toRead.length) {
      const { rows } = await trx.raw<{ rows: BoardRow[] }>('select * from ?? where load_id = any(?::uuid[])', [
        board,
        toRead,
      ]);
      for (const r of rows) existing.set(r.load_id, { ...r, revision: String(r.revision) });
    }
    const decoded = new Map<string, { e: RecordedEvent; event: LoadEvent }[]>();
    const orgIds = new Set<string>();
    for (const [id, es] of byLoad) {
      const list = es.map((e) => ({ e, event: { type: e.type, data: loadEvents.decode(e) } as LoadEvent }));
      decoded.set(id, list);
      for (const { event } of list)
        if (event.type === 'LoadPosted' && !shippers.has(event.data.shipperOrgId)) orgIds.add(event.data.shipperOrgId);
    }
    if (orgIds.size) {
      for (const r of await trx(t('lb_shippers'))
        .whereIn('org_id', [...orgIds])
        .select<{ org_id: string; name: string }[]>())
        shippers.set(r.org_id, r.name);
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
          history.push({
            load_id: id,
            revision: e.revision.toString(),
            event_type: e.type,
            status,
            at: e.createdAt,
            actor: typeof e.metadata.actor === 'string' ? e.metadata.actor : null,
          });
        }
      }
      if (row && row !== start) (ctx?.rebuilding && !start ? created : changed).push(row);
    }
    // A rebuild bulk-loads the loads and history rows it creates; live batches upsert, guarded by revision.
    if (ctx?.rebuilding) {
      await copyRows(trx, board, LOAD_BOARD.columns, created);
      await copyRows(trx, t('load_status_history'), LOAD_STATUS_HISTORY.columns, history);
    } else {
      await upsertRows(trx, t('load_status_history'), LOAD_STATUS_HISTORY.columns, history, {
        key: ['load_id', 'revision'],
        onConflict: 'ignore',
      });
    }
    await upsertRows(trx, board, LOAD_BOARD.columns, changed, {
      key: ['load_id'],
      onConflict: 'update',
      guard: { column: 'revision', op: '<' },
    });
  },
};
