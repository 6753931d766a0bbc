import * as carrier from '../domain/carrier/decider.js';
import { carrierEvents } from '../domain/carrier/events.js';
import { outcomeOf } from '../domain/carrier/performance.js';
import * as load from '../domain/load/decider.js';
import { type LoadEvent, loadEvents, LoadBookingReleased, LoadDelivered } from '../domain/load/events.js';
import { IllegalTransition } from '../domain/shared/errors.js';
import type { EventStore, RecordedEvent } from '../eventstore/types.js';
import type { AtLeastOnceProjector } from '../projections/types.js';
import { handle } from './handle.js';
import { carrierStream } from './lookups.js';

/** Who the carrier stream's events say recorded an outcome. */
export const PERFORMANCE_ACTOR = 'system:carrier-performance';
const SYSTEM = { userId: PERFORMANCE_ACTOR, orgId: PERFORMANCE_ACTOR, roles: [] } as const;

/**
 * A reactor: follows deliveries and released bookings in the log (with a checkpoint, like a
 * projector) and records each as an outcome on the carrier's stream, which updates its score.
 * At-least-once and idempotent: the recorded event's id derives from the load event that caused
 * it, so a replayed batch appends nothing; the carrier decider also counts an outcome once.
 */
export function carrierPerformanceReactor(store: EventStore): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name: 'carrier_performance',
    version: 1,
    eventTypes: [LoadDelivered.type, LoadBookingReleased.type],
    streamPrefixes: ['load-'],

    async apply(events: readonly RecordedEvent[]) {
      // In order: two outcomes of one carrier would otherwise race for its stream.
      for (const e of events) await react(e);
    },
  };

  async function react(e: RecordedEvent): Promise<void> {
    // The load as it stood just before the event: its booking and delivery window.
    const history = e.revision === 0n ? [] : await store.readStream(e.streamId, { maxCount: Number(e.revision) });
    const before = history.reduce((s, h) => load.evolve(s, { type: h.type, data: loadEvents.decode(h) } as LoadEvent), load.initialState);
    const outcome = outcomeOf(before, { type: e.type, data: loadEvents.decode(e) } as LoadEvent);
    if (!outcome) return;
    try {
      await handle(
        { store, registry: carrierEvents },
        carrierStream(outcome.carrierId),
        carrier,
        { type: 'RecordLoadOutcome', data: { loadId: outcome.loadId, outcome: outcome.outcome }, metadata: { now: e.createdAt, actor: SYSTEM } },
        {
          idempotencyKey: `outcome:${e.id}`,
          metadata: {
            causationId: e.id,
            ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
            actor: PERFORMANCE_ACTOR,
          },
        },
      );
    } catch (err) {
      // A booking always names a registered carrier; should history say otherwise, there is
      // nobody to score, and stopping every later outcome for it would help no one.
      if (!(err instanceof IllegalTransition)) throw err;
    }
  }
}
