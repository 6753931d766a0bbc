import * as load from '../domain/load/decider.js';
import type { RecordArrival } from '../domain/load/commands.js';
import { type LoadEvent, loadEvents } from '../domain/load/events.js';
import type { LocationPolicy } from '../domain/load/location.js';
import { PingRecorded, trackingEvents } from '../domain/tracking/events.js';
import type { EventStore, RecordedEvent } from '../eventstore/types.js';
import type { AtLeastOnceProjector } from '../projections/types.js';
import { handle } from '../application/handle.js';
import { loadState } from '../application/lookups.js';
import { loadStream } from '../domain/load/stream.js';
import { TRACKING_STREAM } from '../domain/tracking/stream.js';

export const GEOFENCE_ACTOR = 'system:geofence';
const SYSTEM = { userId: GEOFENCE_ACTOR, orgId: GEOFENCE_ACTOR, roles: [] } as const;

type Ping = ReturnType<typeof PingRecorded.schema.parse>;

/**
 * A reactor: follows the pings and, when a truck first comes within the geofence of its load's
 * pickup site (before pickup) or delivery site (after it), appends LoadArrived to the load. Each
 * load is folded once per batch and its pings checked against that state; only a ping that
 * arrives goes through the command handler, whose event id derives from the ping's event, so a
 * replayed batch appends nothing (and the decider records each arrival once anyway).
 */
export function geofenceReactor(store: EventStore, policy: LocationPolicy): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'geofence',
    version: 1,
    eventTypes: [PingRecorded.type],
    streamPrefixes: [TRACKING_STREAM],

    async apply(events: readonly RecordedEvent[]) {
      const byLoad = new Map<string, RecordedEvent[]>();
      for (const e of events) {
        const loadId = e.streamId.slice(TRACKING_STREAM.length);
        byLoad.set(loadId, [...(byLoad.get(loadId) ?? []), e]);
      }
      await Promise.all([...byLoad].map(([loadId, pings]) => arrivals(loadId, pings)));
    },
  };

  async function arrivals(loadId: string, pings: RecordedEvent[]): Promise<void> {
    let state: load.LoadState = await loadState(store, loadId);
    if (state.status === 'none') return;
    // In the order the fixes were taken: the first one inside the fence is the arrival.
    const fixes = pings
      .map((e) => ({ e, p: trackingEvents.decode(e) as Ping }))
      .sort((a, b) => a.p.recordedAt.getTime() - b.p.recordedAt.getTime());
    for (const { e, p } of fixes) {
      for (const site of ['pickup', 'delivery'] as const) {
        const command: RecordArrival = {
          type: 'RecordArrival',
          data: { site, fix: { lat: p.lat, lng: p.lng, recordedAt: p.recordedAt }, policy },
          metadata: { now: e.createdAt, actor: SYSTEM },
        };
        const decided = load.decide(command, state);
        if (decided.length === 0) continue;
        const r = await handle({ store, registry: loadEvents }, loadStream(loadId), load, command, {
          idempotencyKey: `arrival:${site}:${e.id}`,
          metadata: {
            causationId: e.id,
            ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
            actor: GEOFENCE_ACTOR,
          },
        });
        state = r.events.reduce<load.LoadState>((s, ev) => load.evolve(s, ev as LoadEvent), state);
      }
    }
  }
}
