/**
 * The conventional peer's tables, as a team on Express + Drizzle would declare them: one row per
 * load in relational columns, its status changes in a child table, pings in their own table, the
 * indexes its queries need (earthdistance GiST for radius search), and the DDL that creates them
 * (what `drizzle-kit generate` would have written, with the extensions it cannot).
 */
import { relations, sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const organisations = pgTable('organisations', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  kind: text('kind').notNull(),
  active: boolean('active').notNull().default(true),
});

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id),
    email: text('email').notNull(),
    name: text('name').notNull(),
    roles: text('roles').array().notNull(),
    active: boolean('active').notNull().default(true),
  },
  (t) => [index('users_org_idx').on(t.orgId)],
);

export const carriers = pgTable(
  'carriers',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organisations.id),
    usdotNumber: text('usdot_number').notNull(),
    legalName: text('legal_name').notNull(),
    verified: boolean('verified').notNull(),
    insuranceExpiresAt: at('insurance_expires_at'),
  },
  (t) => [index('carriers_org_idx').on(t.orgId)],
);

export const loads = pgTable(
  'loads',
  {
    id: uuid('id').primaryKey(),
    shipperOrgId: uuid('shipper_org_id').notNull(),
    shipperName: text('shipper_name'),
    reference: text('reference').notNull(),
    commodity: text('commodity').notNull(),
    description: text('description').notNull(),
    weightLb: integer('weight_lb').notNull(),
    lengthFt: doublePrecision('length_ft').notNull(),
    equipmentType: text('equipment_type').notNull(),
    loadSize: text('load_size').notNull(),
    originAddress: text('origin_address').notNull(),
    originCity: text('origin_city').notNull(),
    originState: text('origin_state').notNull(),
    originZip: text('origin_zip').notNull(),
    originLat: doublePrecision('origin_lat').notNull(),
    originLng: doublePrecision('origin_lng').notNull(),
    destAddress: text('dest_address').notNull(),
    destCity: text('dest_city').notNull(),
    destState: text('dest_state').notNull(),
    destZip: text('dest_zip').notNull(),
    destLat: doublePrecision('dest_lat').notNull(),
    destLng: doublePrecision('dest_lng').notNull(),
    pickupFrom: at('pickup_from').notNull(),
    pickupTo: at('pickup_to').notNull(),
    deliveryFrom: at('delivery_from').notNull(),
    deliveryTo: at('delivery_to').notNull(),
    rateCents: integer('rate_cents').notNull(),
    currency: text('currency').notNull(),
    tripMiles: integer('trip_miles').notNull(),
    ratePerMileCents: integer('rate_per_mile_cents').notNull(),
    tarps: boolean('tarps').notNull(),
    hazmat: boolean('hazmat').notNull(),
    twic: boolean('twic').notNull(),
    teamDrivers: boolean('team_drivers').notNull(),
    status: text('status').notNull(),
    carrierId: uuid('carrier_id'),
    carrierOrgId: uuid('carrier_org_id'),
    bookedRateCents: integer('booked_rate_cents'),
    driverId: uuid('driver_id'),
    truckId: text('truck_id'),
    postedAt: at('posted_at').notNull(),
    bookedAt: at('booked_at'),
    updatedAt: at('updated_at').notNull(),
    version: integer('version').notNull().default(1),
  },
  (t) => [
    index('loads_status_pickup_idx').on(t.status, t.pickupFrom),
    index('loads_status_rate_idx').on(t.status, t.rateCents),
    index('loads_origin_state_idx').on(t.originState, t.status),
    index('loads_equipment_idx').on(t.equipmentType, t.status),
    index('loads_shipper_idx').on(t.shipperOrgId),
    index('loads_carrier_org_idx').on(t.carrierOrgId),
    index('loads_driver_idx').on(t.driverId),
    index('loads_origin_earth_idx').using('gist', sql`ll_to_earth(${t.originLat}, ${t.originLng})`),
    index('loads_dest_earth_idx').using('gist', sql`ll_to_earth(${t.destLat}, ${t.destLng})`),
  ],
);

export const loadEvents = pgTable(
  'load_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    loadId: uuid('load_id')
      .notNull()
      .references(() => loads.id),
    status: text('status').notNull(),
    at: at('at').notNull(),
    actorId: uuid('actor_id'),
  },
  (t) => [index('load_events_load_idx').on(t.loadId, t.at)],
);

export const pings = pgTable(
  'pings',
  {
    id: uuid('id').primaryKey(),
    loadId: uuid('load_id').notNull(),
    driverId: uuid('driver_id').notNull(),
    lat: doublePrecision('lat').notNull(),
    lng: doublePrecision('lng').notNull(),
    speedMph: doublePrecision('speed_mph').notNull(),
    headingDeg: doublePrecision('heading_deg'),
    accuracyM: doublePrecision('accuracy_m'),
    recordedAt: at('recorded_at').notNull(),
    receivedAt: at('received_at').notNull(),
  },
  (t) => [index('pings_load_recorded_idx').on(t.loadId, t.recordedAt)],
);

export const loadRelations = relations(loads, ({ many }) => ({ events: many(loadEvents) }));
export const loadEventRelations = relations(loadEvents, ({ one }) => ({
  load: one(loads, { fields: [loadEvents.loadId], references: [loads.id] }),
}));

export const schema = { organisations, users, carriers, loads, loadEvents, pings, loadRelations, loadEventRelations };

/** The tables without their secondary indexes (created after a bulk load, as a set-up would). */
export const CREATE_TABLES = `
create extension if not exists cube;
create extension if not exists earthdistance;
create table organisations (id uuid primary key, name text not null, kind text not null, active boolean not null default true);
create table users (id uuid primary key, org_id uuid not null references organisations(id), email text not null,
  name text not null, roles text[] not null, active boolean not null default true);
create table carriers (id uuid primary key, org_id uuid not null references organisations(id), usdot_number text not null,
  legal_name text not null, verified boolean not null, insurance_expires_at timestamptz);
create table loads (
  id uuid primary key, shipper_org_id uuid not null, shipper_name text, reference text not null, commodity text not null,
  description text not null, weight_lb integer not null, length_ft double precision not null, equipment_type text not null,
  load_size text not null, origin_address text not null, origin_city text not null, origin_state text not null,
  origin_zip text not null, origin_lat double precision not null, origin_lng double precision not null,
  dest_address text not null, dest_city text not null, dest_state text not null, dest_zip text not null,
  dest_lat double precision not null, dest_lng double precision not null, pickup_from timestamptz not null,
  pickup_to timestamptz not null, delivery_from timestamptz not null, delivery_to timestamptz not null,
  rate_cents integer not null, currency text not null, trip_miles integer not null, rate_per_mile_cents integer not null,
  tarps boolean not null, hazmat boolean not null, twic boolean not null, team_drivers boolean not null,
  status text not null, carrier_id uuid, carrier_org_id uuid, booked_rate_cents integer, driver_id uuid, truck_id text,
  posted_at timestamptz not null, booked_at timestamptz, updated_at timestamptz not null, version integer not null default 1);
create table load_events (id bigserial primary key, load_id uuid not null references loads(id), status text not null,
  at timestamptz not null, actor_id uuid);
create table pings (id uuid primary key, load_id uuid not null, driver_id uuid not null, lat double precision not null,
  lng double precision not null, speed_mph double precision not null, heading_deg double precision,
  accuracy_m double precision, recorded_at timestamptz not null, received_at timestamptz not null);
`;

/** The secondary indexes declared above. */
export const CREATE_INDEXES = `
create index users_org_idx on users (org_id);
create index carriers_org_idx on carriers (org_id);
create index loads_status_pickup_idx on loads (status, pickup_from);
create index loads_status_rate_idx on loads (status, rate_cents);
create index loads_origin_state_idx on loads (origin_state, status);
create index loads_equipment_idx on loads (equipment_type, status);
create index loads_shipper_idx on loads (shipper_org_id);
create index loads_carrier_org_idx on loads (carrier_org_id);
create index loads_driver_idx on loads (driver_id);
create index loads_origin_earth_idx on loads using gist (ll_to_earth(origin_lat, origin_lng));
create index loads_dest_earth_idx on loads using gist (ll_to_earth(dest_lat, dest_lng));
create index load_events_load_idx on load_events (load_id, at);
create index pings_load_recorded_idx on pings (load_id, recorded_at);
`;
