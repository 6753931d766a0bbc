import * as carrier from '../domain/carrier/decider.js';
import { carrierEvents } from '../domain/carrier/events.js';
import { outcomeOf } from '../domain/carrier/performance.js';
import { type LoadEvent, loadEvents } from '../domain/load/events.js';
import { IllegalTransition } from '../domain/shared/errors.js';
import type { EventStore, RecordedEvent } from '../eventstore/types.js';
import { handle } from './handle.js';
import { loadState } from './lookups.js';
import { carrierStream } from '../domain/carrier/stream.js';
import { loadIdOf } from '../domain/load/stream.js';

/** Who the carrier stream's events say recorded an outcome. */
export const PERFORMANCE_ACTOR = 'system:carrier-performance';
const SYSTEM = { userId: PERFORMANCE_ACTOR, orgId: PERFORMANCE_ACTOR, roles: [] } as const;

/**
 * Records a delivery or a released booking as an outcome on the carrier's stream, which updates
 * its score (run by the carrier-performance job). Idempotent: the recorded event's id derives
 * from the load event that caused it, and the carrier decider counts an outcome once.
 */
export async function recordOutcome(store: EventStore, e: RecordedEvent): Promise<'recorded' | 'nothing to score'> {
  // The load as it stood just before the event: its booking and delivery window.
  const before = await loadState(store, loadIdOf(e.streamId), e.revision - 1n);
  const outcome = outcomeOf(before, { type: e.type, data: loadEvents.decode(e) } as LoadEvent);
  if (!outcome) return 'nothing to score';
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
    return 'recorded';
  } catch (err) {
    // A booking always names a registered carrier; should history say otherwise, there is
    // nobody to score, and retrying would not change that.
    if (!(err instanceof IllegalTransition)) throw err;
    return 'nothing to score';
  }
}
