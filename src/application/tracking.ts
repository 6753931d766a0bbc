import { trackingEvents } from '../domain/tracking/events.js';
import type { Ping } from '../domain/tracking/pings.js';
import { DuplicateEventId, WrongExpectedVersion } from '../eventstore/errors.js';
import { trackingStream } from '../domain/tracking/stream.js';
import { mayActAs, mustSee } from '../domain/load/access.js';
import { DomainError, RuleViolation } from '../domain/shared/errors.js';
import type { EventData, EventMetadata, EventStore, Position } from '../eventstore/types.js';
import { traceCarrier } from '../infra/tracing.js';
import { uuidV5 } from '../infra/uuid5.js';
import { handleOptions, type Invocation } from './invocation.js';
import type { LoadService } from './loads.js';

// A fixed namespace for ping event ids (uuid v5 of load and ping id).
const PING_NAMESPACE = '6f1d2c3b-4a5e-4f60-9b8a-7c6d5e4f3a21';
/** Recent events of a tracking stream looked through for pings already stored. */
const DEDUPE_WINDOW = 5_000;

/**
 * Some of the append's ids are stored already. Appending with expectedRevision 'any', a conflict
 * can mean nothing else: the store found them in this stream, but not as this very append.
 */
const storedBefore = (err: unknown) => err instanceof DuplicateEventId || err instanceof WrongExpectedVersion;

/** The event id of a ping: the phone's id, scoped to the load so no other stream can hold it. */
export const pingEventId = (loadId: string, pingId: string) => uuidV5(`${loadId}\n${pingId}`, PING_NAMESPACE);

/**
 * Appends a batch of good pings to the load's tracking stream, each once: a retried batch is an
 * idempotent re-append, and a batch mixing new pings with ones stored before has the stored ones
 * dropped (found among the stream's recent events, else one append each, which the store treats
 * as a retry when the id is already there). Out-of-order pings are stored as they come; readers
 * order by `recordedAt`.
 */
export async function recordPings(
  store: EventStore,
  loadId: string,
  pings: readonly Ping[],
  opts: {
    receivedAt: Date;
    metadata?: Omit<EventMetadata, 'schemaVersion'>;
    dedupeWindow?: number;
    retentionSeconds?: number;
  },
): Promise<{ position?: Position }> {
  if (pings.length === 0) return {};
  const stream = trackingStream(loadId);
  // A new tracking stream gets its retention where the store keeps one per stream (EventStoreDB).
  const created = (r: { nextExpectedRevision: bigint }, n: number) =>
    opts.retentionSeconds && r.nextExpectedRevision === BigInt(n - 1)
      ? store.setMaxAge(stream, opts.retentionSeconds)
      : undefined;
  const events: EventData[] = pings.map((p) => {
    const { data, schemaVersion } = trackingEvents.encode('PingRecorded', { ...p, receivedAt: opts.receivedAt });
    return {
      id: pingEventId(loadId, p.pingId),
      type: 'PingRecorded',
      data,
      metadata: { ...opts.metadata, schemaVersion },
    };
  });
  try {
    const r = await store.append(stream, events, { expectedRevision: 'any' });
    await created(r, events.length);
    return { position: r.position };
  } catch (err) {
    if (!storedBefore(err)) throw err;
  }
  const stored = new Set(
    (await store.readStream(stream, { direction: 'backwards', maxCount: opts.dedupeWindow ?? DEDUPE_WINDOW })).map(
      (e) => e.id,
    ),
  );
  const fresh = events.filter((e) => !stored.has(e.id));
  if (fresh.length === 0) return {};
  try {
    return { position: (await store.append(stream, fresh, { expectedRevision: 'any' })).position };
  } catch (err) {
    if (!storedBefore(err)) throw err;
  }
  // Stored longer ago than the window: one at a time, so each is stored or recognised.
  let position: Position | undefined;
  for (const e of fresh) position = (await store.append(stream, [e], { expectedRevision: 'any' })).position;
  return { position };
}

/** The statuses of a load that is being hauled: its driver sends pings. */
export const HAULING = ['assigned', 'picked_up', 'in_transit'] as const;

export interface TrackingLookups {
  loads: Pick<LoadService, 'state'>;
  /** The loads a driver is assigned to and hauling, latest first, at most `limit` (the load board). */
  loadsHauledBy(driverId: string, limit: number): Promise<string[]>;
}

/** GPS pings, on each load's tracking stream: only the driver hauling a load sends its pings. */
export class TrackingService {
  constructor(
    private readonly store: EventStore,
    private readonly lookups: TrackingLookups,
    private readonly options: { retentionSeconds?: number } = {},
  ) {}

  /** The load the driver is hauling: the one named, or the only one. Checked against the load's own stream. */
  async currentLoad(by: Invocation, named?: string): Promise<string> {
    const driverId = by.actor.userId;
    let loadId = named;
    if (!loadId) {
      const hauled = await this.lookups.loadsHauledBy(driverId, 2);
      if (hauled.length > 1)
        throw new RuleViolation('which-load', 'You are assigned to several loads being hauled: name the loadId');
      loadId = hauled[0];
    }
    const state = loadId ? await this.lookups.loads.state(loadId) : undefined;
    // A named load the driver may not see is the read's 404; one it sees but its organisation does
    // not haul, a 403: neither says who hauls it or in what state it is.
    if (named && state) {
      mustSee(by.actor, state, named);
      mayActAs(by.actor, state, 'hauler');
    }
    const hauling =
      state &&
      'assignment' in state &&
      (HAULING as readonly string[]).includes(state.status) &&
      state.assignment.driverId === driverId;
    if (!hauling) {
      const why = named ? `You are not hauling load ${named} now` : 'You are not assigned to a load being hauled';
      throw new DomainError(409, 'urn:freight:problem:no-load-to-track', why);
    }
    return loadId!;
  }

  /** Stores the driver's good pings on the load it hauls (named, or its only one). */
  async record(
    pings: readonly Ping[],
    at: { loadId?: string; receivedAt: Date },
    by: Invocation,
  ): Promise<{ loadId: string; position?: Position }> {
    const loadId = await this.currentLoad(by, at.loadId);
    // No actor: who drove lives in the load's assignment, not in pings that retention deletes.
    const { actor: _actor, ...caused } = handleOptions(by).metadata ?? {};
    const r = await recordPings(this.store, loadId, pings, {
      receivedAt: at.receivedAt,
      ...(this.options.retentionSeconds ? { retentionSeconds: this.options.retentionSeconds } : {}),
      metadata: { ...traceCarrier(), ...caused },
    });
    return { loadId, ...(r.position ? { position: r.position } : {}) };
  }
}
