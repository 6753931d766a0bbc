import * as carrier from '../domain/carrier/decider.js';
import type { CarrierStanding } from '../domain/carrier/eligibility.js';
import { type CarrierEvent, carrierEvents } from '../domain/carrier/events.js';
import * as load from '../domain/load/decider.js';
import { type LoadEvent, loadEvents } from '../domain/load/events.js';
import type { EventRegistry } from '../domain/shared/event-schema.js';
import * as organisation from '../domain/organisation/decider.js';
import { type OrganisationEvent, organisationEvents } from '../domain/organisation/events.js';
import type { EventStore } from '../eventstore/types.js';
import { foldStream } from './state-cache.js';
import { carrierStream } from '../domain/carrier/stream.js';
import { loadStream } from '../domain/load/stream.js';
import { organisationStream } from '../domain/organisation/stream.js';


/**
 * A stream's state: its events decoded and folded; with `upTo`, only those up to that revision
 * (inclusive). The current state is folded on from the last one this process saw (state-cache.ts).
 */
export async function fold<E extends { type: string }, S>(
  store: EventStore,
  registry: EventRegistry,
  streamId: string,
  evolve: (s: S, e: E) => S,
  initial: S,
  upTo?: bigint,
): Promise<S> {
  if (upTo !== undefined && upTo < 0n) return initial;
  if (upTo === undefined) return (await foldStream(store, registry, streamId, evolve, initial)).state;
  const history = await store.readStream(streamId, upTo === undefined ? {} : { maxCount: Number(upTo) + 1 });
  return history.reduce((s, e) => evolve(s, { type: e.type, data: registry.decode(e) } as unknown as E), initial);
}

export function carrierState(store: EventStore, carrierId: string, upTo?: bigint): Promise<carrier.CarrierState> {
  return fold<CarrierEvent, carrier.CarrierState>(store, carrierEvents, carrierStream(carrierId), carrier.evolve, carrier.initialState, upTo);
}

/** A carrier's standing as its own stream says now (not a read model: eligibility must not lag). */
export async function carrierStanding(store: EventStore, carrierId: string): Promise<CarrierStanding | undefined> {
  return carrier.standingOf(await carrierState(store, carrierId));
}

export function loadState(store: EventStore, loadId: string, upTo?: bigint): Promise<load.LoadState> {
  return fold<LoadEvent, load.LoadState>(store, loadEvents, loadStream(loadId), load.evolve, load.initialState, upTo);
}

export function organisationState(store: EventStore, orgId: string): Promise<organisation.OrganisationState> {
  return fold<OrganisationEvent, organisation.OrganisationState>(store, organisationEvents, organisationStream(orgId), organisation.evolve, organisation.initialState);
}

/** A shipper's Stripe billing account, as its organisation's stream says now. */
export async function billingAccountOf(store: EventStore, orgId: string): Promise<{ stripeCustomerId: string; paymentMethodId: string } | undefined> {
  const state = await organisationState(store, orgId);
  return state.status === 'none' ? undefined : state.billing;
}

/** A carrier's Stripe Connect account, as its stream says now. */
export async function payoutAccountOf(store: EventStore, carrierId: string): Promise<string | undefined> {
  const state = await carrierState(store, carrierId);
  return state.status === 'none' ? undefined : state.payoutAccount;
}
