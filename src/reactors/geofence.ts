import * as load from '../domain/load/decider.js';
import type { RecordArrival } from '../domain/load/commands.js';
import type { LoadEvent } from '../domain/load/events.js';
import type { LocationPolicy } from '../domain/load/location.js';
import { PingRecorded, trackingEvents } from '../domain/tracking/events.js';
import type { RecordedEvent } from '../eventstore/types.js';
import type { AtLeastOnceProjector } from '../projections/types.js';
import { reactingTo, systemActor } from '../application/invocation.js';
import type { LoadService } from '../application/loads.js';
import { TRACKING_STREAM, trackedLoadIdOf } from '../domain/tracking/stream.js';

export const GEOFENCE_ACTOR = 'system:geofence';
const SYSTEM = systemActor(GEOFENCE_ACTOR);

type Ping = ReturnType<typeof PingRecorded.schema.parse>;

/**
 * A reactor: follows the pings and, when a truck first comes within the geofence of its load's
 * pickup site (before pickup) or delivery site (after it), appends LoadArrived to the load. Each
 * load is folded once per batch and its pings checked against that state; only a ping that
 * arrives goes through the command handler, whose event id derives from the ping's event, so a
 * replayed batch appends nothing (and the decider records each arrival once anyway).
 */
export function geofenceReactor(
  loads: Pick<LoadService, 'state' | 'recordArrival'>,
  policy: LocationPolicy,
): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'geofence',
    version: 1,
    eventTypes: [PingRecorded.type],
    streamPrefixes: [TRACKING_STREAM],

    async apply(events: readonly RecordedEvent[]) {
      const byLoad = new Map<string, RecordedEvent[]>();
      for (const e of events) {
        const loadId = trackedLoadIdOf(e.streamId);
        byLoad.set(loadId, [...(byLoad.get(loadId) ?? []), e]);
      }
      await Promise.all([...byLoad].map(([loadId, pings]) => arrivals(loadId, pings)));
    },
  };

  async function arrivals(loadId: string, pings: RecordedEvent[]): Promise<void> {
    let state: load.LoadState = await loads.state(loadId);
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
        const r = await loads.recordArrival(loadId, command.data, reactingTo(e, SYSTEM, `arrival:${site}:${e.id}`));
        state = r.events.reduce<load.LoadState>((s, ev) => load.evolve(s, ev as LoadEvent), state);
      }
    }
  }
}
