import { v5 as uuidv5 } from 'uuid';
import * as load from '../domain/load/decider.js';
import { loadEvents } from '../domain/load/events.js';
import type { LoadDetails } from '../domain/load/schemas.js';
import * as org from '../domain/organisation/decider.js';
import { organisationEvents } from '../domain/organisation/events.js';
import type { Actor } from '../domain/shared/actor.js';
import { estimatedRoadMiles } from '../domain/shared/geo.js';
import type { EventRegistry } from '../domain/shared/event-schema.js';
import type { EventStore } from '../eventstore/types.js';
import { CITIES, EQUIPMENT, random, weighted } from './data.js';
import { loadStream } from '../domain/load/stream.js';
import { organisationStream } from '../domain/organisation/stream.js';

const NS = '6f1c9a52-8d0e-4b7a-9c3f-2e5d8a1b4c70';
const HOUR = 3_600_000;
const ADMIN: Actor = { userId: 'seed', orgId: '00000000-0000-4000-8000-000000000001', roles: ['admin'] };
const SHIPPER_NAMES = [
  'Lone Star Concrete',
  'Gulf Coast Steel',
  'Summit Builders',
  'Peak Aggregates',
  'Harbor Precast',
  'Ironline Supply',
  'Red River Lumber',
  'Keystone Structures',
];

export interface SeedOptions {
  store: EventStore;
  loads: number;
  /** Shipper organisations the loads are spread over. */
  shippers?: number;
  /** Appends in flight (the store's group commit shares their flushes). */
  concurrency?: number;
  /** PRNG seed: the same seed gives the same loads (ids included). */
  seed?: number;
  /** Share of loads cancelled after posting. */
  cancelledShare?: number;
  now?: Date;
  onProgress?: (done: number) => void;
}

function encode(registry: EventRegistry, events: { type: string; data: unknown }[], id: (i: number) => string) {
  return events.map((e, i) => {
    const { data, schemaVersion } = registry.encode(e.type, e.data);
    return { id: id(i), type: e.type, data, metadata: { actor: 'seed', schemaVersion } };
  });
}

/**
 * A realistic data set through the real write path (deciders, event schemas, EventStore.append):
 * shipper organisations, then loads on weighted US lanes with an equipment mix, rates per mile
 * by equipment, pickup windows over the coming week and postings up to three days old.
 */
export async function seed(o: SeedOptions): Promise<{ loads: number; events: number }> {
  const rnd = random(o.seed ?? 1);
  const now = o.now ?? new Date();
  const shipperIds = Array.from({ length: o.shippers ?? 200 }, (_, i) => uuidv5(`shipper-${o.seed ?? 1}-${i}`, NS));
  let events = 0;
  for (const [i, orgId] of shipperIds.entries()) {
    const name = `${SHIPPER_NAMES[i % SHIPPER_NAMES.length]} ${Math.floor(i / SHIPPER_NAMES.length) + 1}`;
    const decided = org.decide(
      { type: 'RegisterOrganisation', data: { orgId, name, kind: 'shipper' }, metadata: { now, actor: ADMIN } },
      org.initialState,
    );
    await o.store
      .append(
        organisationStream(orgId),
        encode(organisationEvents, decided, (k) => uuidv5(`${orgId}-${k}`, NS)),
        { expectedRevision: 'any' },
      )
      .catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'WrongExpectedVersion') throw err;
      });
    events += decided.length;
  }

  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const n = next++;
      if (n >= o.loads) return;
      const loadId = uuidv5(`load-${o.seed ?? 1}-${n}`, NS);
      const shipperOrgId = shipperIds[Math.floor(rnd() * shipperIds.length)]!;
      const from = weighted(CITIES, rnd());
      let to = weighted(CITIES, rnd());
      if (to === from) to = CITIES[(CITIES.indexOf(from) + 7) % CITIES.length]!;
      const eq = weighted(EQUIPMENT, rnd());
      const postedAt = new Date(now.getTime() - rnd() * 72 * HOUR);
      const pickupFrom = new Date(now.getTime() + (rnd() * 7 - 0.5) * 24 * HOUR);
      const pickupTo = new Date(Math.max(pickupFrom.getTime() + (4 + rnd() * 44) * HOUR, now.getTime() + HOUR));
      const jitter = () => (rnd() - 0.5) * 0.1;
      const details: LoadDetails & { loadId: string } = {
        loadId,
        shipperOrgId,
        reference: `PO-${100_000 + n}`,
        commodity: eq.commodities[Math.floor(rnd() * eq.commodities.length)]!,
        description: `${eq.type.replace('_', ' ')} load from ${from.city} to ${to.city}`,
        weightLb: Math.round(eq.maxLb * (0.3 + rnd() * 0.7)),
        lengthFt: [20, 24, 40, 45, 48, 53][Math.floor(rnd() * 6)]!,
        equipmentType: eq.type,
        loadSize: rnd() < 0.8 ? 'full' : 'partial',
        origin: {
          address: `${1 + Math.floor(rnd() * 9000)} Industrial Blvd`,
          city: from.city,
          state: from.state,
          zip: from.zip,
          lat: from.lat + jitter(),
          lng: from.lng + jitter(),
        },
        destination: {
          address: `${1 + Math.floor(rnd() * 9000)} Jobsite Rd`,
          city: to.city,
          state: to.state,
          zip: to.zip,
          lat: to.lat + jitter(),
          lng: to.lng + jitter(),
        },
        pickupWindow: { from: pickupFrom, to: pickupTo },
        deliveryWindow: {
          from: new Date(pickupTo.getTime() + 12 * HOUR),
          to: new Date(pickupTo.getTime() + 72 * HOUR),
        },
        rateCents: 0,
        currency: 'USD',
        requirements: {
          tarps: eq.type === 'flatbed' && rnd() < 0.4,
          hazmat: eq.type === 'tanker' && rnd() < 0.5,
          twic: rnd() < 0.05,
          teamDrivers: false,
        },
      };
      const metadata = { now: postedAt, actor: { ...ADMIN, orgId: shipperOrgId, roles: ['shipper' as const] } };
      // The rate follows the trip miles the decider will derive, at the equipment's market rate.
      const miles = estimatedRoadMiles(details.origin, details.destination);
      details.rateCents = Math.max(
        25_000,
        Math.round((miles * (eq.centsPerMile[0] + rnd() * (eq.centsPerMile[1] - eq.centsPerMile[0]))) / 100) * 100,
      );
      const posted = load.decide({ type: 'PostLoad', data: details, metadata }, load.initialState);
      const stream = loadStream(loadId);
      const cancel = rnd() < (o.cancelledShare ?? 0.08);
      const state = posted.reduce(load.evolve, load.initialState);
      const all = cancel
        ? [
            ...posted,
            ...load.decide(
              {
                type: 'CancelLoad',
                data: { reason: 'project rescheduled' },
                metadata: { ...metadata, now: new Date(postedAt.getTime() + HOUR) },
              },
              state,
            ),
          ]
        : posted;
      await o.store.append(
        stream,
        encode(loadEvents, all, (k) => uuidv5(`${stream}-${k}`, NS)),
        { expectedRevision: 'no_stream' },
      );
      events += all.length;
      done++;
      o.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 64 }, worker));
  return { loads: done, events };
}
