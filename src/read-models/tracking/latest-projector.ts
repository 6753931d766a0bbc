import { type LoadEvent, loadEvents } from '../../domain/load/events.js';
import { PingRecorded, trackingEvents } from '../../domain/tracking/events.js';
import { formatPosition } from '../../eventstore/position.js';
import type { RecordedEvent } from '../../eventstore/types.js';
import type { AtLeastOnceProjector } from '../../projections/types.js';
import type { LatestLocations, LoadFacts } from './latest.js';
import { LOAD_STREAM } from '../../domain/load/stream.js';
import { TRACKING_STREAM } from '../../domain/tracking/stream.js';

const FACT_EVENTS = [
  'LoadPosted',
  'LoadBooked',
  'DriverAssigned',
  'LoadPickedUp',
  'LoadInTransit',
  'LoadDelivered',
  'LoadCancelled',
  'LoadExpired',
  'LoadBookingReleased',
] as const satisfies readonly LoadEvent['type'][];

/** What a load event says of who may see the load's location, which truck it is, and whether it is being hauled. */
function factsOf(e: LoadEvent): { facts: LoadFacts; active?: boolean } | undefined {
  switch (e.type) {
    case 'LoadPosted':
      return { facts: { status: 'posted', shipperOrgId: e.data.shipperOrgId } };
    case 'LoadBooked':
      return { facts: { status: 'booked', carrierOrgId: e.data.carrierOrgId } };
    case 'DriverAssigned':
      return { facts: { status: 'assigned', truckId: e.data.truckId }, active: true };
    case 'LoadPickedUp':
      return { facts: { status: 'picked_up' }, active: true };
    case 'LoadInTransit':
      return { facts: { status: 'in_transit' }, active: true };
    case 'LoadDelivered':
      return { facts: { status: 'delivered' }, active: false };
    case 'LoadCancelled':
      return { facts: { status: 'cancelled' }, active: false };
    case 'LoadExpired':
      return { facts: { status: 'expired' }, active: false };
    case 'LoadBookingReleased':
      return { facts: { status: 'posted', carrierOrgId: '', truckId: '' }, active: false };
    default:
      return undefined;
  }
}

/**
 * Keeps the latest location of each load in Redis (see LatestLocations). At-least-once and
 * idempotent: fixes are stored only when taken later than the stored one, load facts only when
 * newer by revision. Of a batch's pings only each load's latest is sent.
 */
export function trackingLatestProjector(locations: LatestLocations): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'tracking_latest',
    version: 1,
    eventTypes: [PingRecorded.type, ...FACT_EVENTS],
    streamPrefixes: [TRACKING_STREAM, LOAD_STREAM],

    async apply(events: readonly RecordedEvent[]) {
      // The latest fix of each load in this batch: the others could not be stored anyway.
      const latest = new Map<string, RecordedEvent & { recordedAt: Date }>();
      for (const e of events) {
        if (e.type !== PingRecorded.type) continue;
        const recordedAt = new Date((e.data as { recordedAt: string }).recordedAt);
        const loadId = e.streamId.slice(TRACKING_STREAM.length);
        const held = latest.get(loadId);
        if (!held || recordedAt.getTime() > held.recordedAt.getTime()) latest.set(loadId, { ...e, recordedAt });
      }
      // In log order, so a load's facts and fixes apply as they happened; sent together (pipelined).
      const writes: Promise<unknown>[] = [];
      for (const e of events) {
        if (e.type === PingRecorded.type) {
          const loadId = e.streamId.slice(TRACKING_STREAM.length);
          if (latest.get(loadId)?.id !== e.id) continue;
          const p = trackingEvents.decode(e) as ReturnType<typeof PingRecorded.schema.parse>;
          writes.push(locations.recordFix(loadId, { ...p, position: formatPosition(e.position) }));
        } else {
          const f = factsOf({ type: e.type, data: loadEvents.decode(e) } as LoadEvent);
          if (f)
            writes.push(locations.recordFacts(e.streamId.slice(LOAD_STREAM.length), e.revision, f.facts, f.active));
        }
      }
      await Promise.all(writes);
    },
  };
}
