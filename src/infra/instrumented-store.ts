import { WrongExpectedVersion } from '../eventstore/errors.js';
import type { EventStore } from '../eventstore/types.js';
import type { Metrics } from './metrics.js';

/**
 * The event store with its appends measured: latency, conflicts, and events appended by type
 * (the business counters: loads posted, booked, delivered, payments succeeded or failed… are
 * `events_appended_total{type=…}`). Everything else passes through untouched.
 */
export function instrumentStore(store: EventStore, metrics: Metrics): EventStore {
  const append: EventStore['append'] = async (streamId, events, options) => {
    const end = metrics.appendDuration.startTimer();
    try {
      const r = await store.append(streamId, events, options);
      end({ outcome: 'ok' });
      for (const e of events) metrics.eventsAppended.inc({ type: e.type });
      return r;
    } catch (err) {
      const conflict = err instanceof WrongExpectedVersion;
      end({ outcome: conflict ? 'conflict' : 'error' });
      if (conflict) metrics.appendConflicts.inc();
      throw err;
    }
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') return append;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
