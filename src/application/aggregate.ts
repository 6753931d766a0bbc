import type { EventRegistry } from '../domain/shared/event-schema.js';
import type { EventStore } from '../eventstore/types.js';
import { type Decider, handle, type HandleResult } from './handle.js';
import { handleOptions, type Invocation, type Unsent } from './invocation.js';
import { foldStream } from './state-cache.js';

/** What binds an aggregate to the log: its stream per id, the codec of its events, and its decider. */
export interface AggregateSpec<C, E, S> {
  readonly stream: (id: string) => string;
  readonly registry: EventRegistry;
  readonly decider: Decider<C, E, S>;
  /** Chain each event's hash to the previous one's (tamper evidence; payment streams). */
  readonly chained?: boolean;
}

/**
 * One aggregate bound once to the store (as Equinox's `Service` and Emmett's `CommandHandler` do):
 * its state by id, and its commands run through the handler (read, fold, authorize, decide, append,
 * retry on conflict). The services of each aggregate build on it; routes, jobs and reactors call
 * those services, never the handler.
 */
export class Aggregate<C extends { type: string }, E extends { type: string; data: unknown }, S> {
  constructor(
    readonly store: EventStore,
    private readonly spec: AggregateSpec<C, E, S>,
  ) {}

  /** The state as the stream says now; with `upTo`, only the events up to that revision (inclusive). */
  async state(id: string, upTo?: bigint): Promise<S> {
    const { registry, decider } = this.spec;
    const streamId = this.spec.stream(id);
    if (upTo === undefined)
      return (await foldStream(this.store, registry, streamId, decider.evolve, decider.initialState)).state;
    if (upTo < 0n) return decider.initialState;
    const history = await this.store.readStream(streamId, { maxCount: Number(upTo) + 1 });
    return history.reduce(
      (s, e) => decider.evolve(s, { type: e.type, data: registry.decode(e) } as unknown as E),
      decider.initialState,
    );
  }

  /** Runs one command on the aggregate `id`, with the invocation's actor, time, If-Match and key. */
  run(id: string, command: Unsent<C>, by: Invocation): Promise<HandleResult<E>> {
    const full = { ...command, metadata: { now: by.now ?? new Date(), actor: by.actor } } as unknown as C;
    const options = handleOptions(by);
    return handle({ store: this.store, registry: this.spec.registry }, this.spec.stream(id), this.spec.decider, full, {
      ...options,
      ...(this.spec.chained ? { chained: true } : {}),
    });
  }
}
