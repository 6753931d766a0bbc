import type { DeliveryHold, EventStore } from './types.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';

/** The latest look at delivery: held back for longer than the threshold is `stalled`. */
export interface DeliveryState extends DeliveryHold {
  stalled: boolean;
  /** Why, in words, when stalled. */
  reason?: string;
  checkedAt: Date;
}

/**
 * Looks every `everyMs` at what holds delivery to subscribers back (`EventStore.deliveryHold`):
 * sets the held-back metrics, keeps the state `/ready` reports, and warns, naming the holder, once
 * events have waited longer than `thresholdMs` (again every minute while it lasts; once when it ends).
 */
export class DeliveryWatch {
  private timer?: NodeJS.Timeout;
  private lastWarned = 0;
  private running?: Promise<unknown>;
  state: DeliveryState = { heldEvents: 0, heldSeconds: 0, stalled: false, checkedAt: new Date(0) };

  constructor(
    private readonly deps: {
      store: EventStore;
      logger: Logger;
      metrics?: Metrics;
      everyMs: number;
      thresholdMs: number;
    },
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.check().finally(() => {
        this.running = undefined;
        if (this.timer) this.timer = setTimeout(tick, this.deps.everyMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async check(): Promise<DeliveryState> {
    const { store, logger, metrics, thresholdMs } = this.deps;
    let hold: DeliveryHold;
    try {
      hold = await store.deliveryHold();
    } catch (err) {
      logger.debug('could not look at event delivery', { err });
      return this.state;
    }
    const stalled = hold.heldEvents > 0 && hold.heldSeconds * 1000 >= thresholdMs;
    const was = this.state.stalled;
    this.state = { ...hold, stalled, checkedAt: new Date(), ...(stalled ? { reason: reasonFor(hold) } : {}) };
    metrics?.deliveryHeldSeconds.set(hold.heldSeconds);
    metrics?.deliveryHeldEvents.set(hold.heldEvents);
    if (stalled && (!was || Date.now() - this.lastWarned >= 60_000)) {
      this.lastWarned = Date.now();
      logger.warn('event delivery is held back', {
        heldEvents: hold.heldEvents,
        heldSeconds: Math.round(hold.heldSeconds),
        adapter: store.name,
        ...(hold.holder ? { holder: hold.holder } : {}),
      });
    } else if (!stalled && was) {
      logger.info('event delivery resumed');
    }
    return this.state;
  }
}

function reasonFor(hold: DeliveryHold): string {
  const held = `${hold.heldEvents > 10_000 ? 'over 10,000' : hold.heldEvents} committed events have waited ${Math.round(hold.heldSeconds)} s`;
  if (!hold.holder) return `${held} for subscribers to receive them`;
  const h = hold.holder;
  return `${held} behind an append open for ${Math.round(h.openSeconds)} s (backend pid ${h.pid}${h.applicationName ? `, application "${h.applicationName}"` : ''}, ${h.state || 'state unknown'})`;
}
