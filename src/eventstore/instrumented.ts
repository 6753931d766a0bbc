import { WrongExpectedVersion } from './errors.js';
import type { EventStore } from './types.js';
import type { Metrics } from '../infra/metrics.js';
import { SpanKind, withSpan } from '../infra/tracing.js';

/**
 * The event store with its appends measured: latency, conflicts, and events appended by type
 * (the business counters: loads posted, booked, delivered, payments succeeded or failed… are
 * `events_appended_total{type=…}`). When tracing, each append is a client span. Everything else
 * passes through untouched.
 */
export function instrumentStore(store: EventStore, metrics: Metrics): EventStore {
  const append: EventStore['append'] = (streamId, events, options) =>
    withSpan(
      'eventstore.append',
      { kind: SpanKind.CLIENT, attributes: { 'freight.stream': streamId, 'freight.events': events.length } },
      () => measured(streamId, events, options),
    );
  const measured: EventStore['append'] = async (streamId, events, options) => {
    const end = metrics.appendDuration.startTimer();
    try {
      const r = await store.append(streamId, events, options);
      end({ outcome: 'ok' });
      // A batch of 500 pings is one counter update, not 500.
      const byType = new Map<string, number>();
      for (const e of events) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
      for (const [type, n] of byType) metrics.eventsAppended.inc({ type }, n);
      return r;
    } catch (err) {
      const conflict = err instanceof WrongExpectedVersion;
      end({ outcome: conflict ? 'conflict' : 'error' });
      if (conflict) metrics.appendConflicts.inc();
      throw err;
    }
  };
  // Methods are bound once, not on every call.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') return append;
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (!bound.has(prop)) bound.set(prop, (v as (...a: unknown[]) => unknown).bind(target));
      return bound.get(prop);
    },
  });
}
