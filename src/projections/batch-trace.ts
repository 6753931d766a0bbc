import type { RecordedEvent } from '../eventstore/types.js';
import { formatPosition } from '../eventstore/position.js';
import { contextFrom, recordSpan, tracingEnabled } from '../infra/tracing.js';

/**
 * When tracing: a span in each command's trace for the part of this batch that came from it
 * (events carry their command's traceparent), from the batch's start to its commit.
 */
export function traceBatch(
  projector: string,
  events: readonly RecordedEvent[],
  startTime: number,
  err?: unknown,
): void {
  if (!tracingEnabled() || events.length === 0) return;
  const byParent = new Map<string, RecordedEvent[]>();
  for (const e of events) {
    const tp = e.metadata.traceparent;
    if (typeof tp !== 'string') continue;
    const list = byParent.get(tp);
    if (list) list.push(e);
    else byParent.set(tp, [e]);
  }
  const endTime = Date.now();
  for (const [traceparent, mine] of byParent) {
    const parent = contextFrom({ traceparent });
    if (!parent) continue;
    recordSpan(`project ${projector}`, {
      parent,
      startTime,
      endTime,
      attributes: {
        'freight.projector': projector,
        'freight.events': mine.length,
        'freight.event_types': [...new Set(mine.map((e) => e.type))].join(','),
        'freight.batch_size': events.length,
        'freight.position': formatPosition(mine[mine.length - 1]!.position),
      },
      ...(err ? { error: err instanceof Error ? err.message : String(err) } : {}),
    });
  }
}
