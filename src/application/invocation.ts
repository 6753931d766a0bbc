import type { Actor } from '../domain/shared/actor.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { currentContext } from '../infra/context.js';
import type { HandleOptions } from './handle.js';

/**
 * Who runs a command, and how: a request (its user, If-Match and Idempotency-Key, correlated by
 * the request's context) or the platform (a job or a reactor, caused by an event). Every service
 * method takes one; a route passes its input as it is.
 */
export interface Invocation {
  readonly actor: Actor;
  /** The command's time (default: now); a reactor uses the time of the event it reacts to. */
  readonly now?: Date;
  /** The client's If-Match: the stream must be at this revision, and a conflict is not retried. */
  readonly ifMatch?: bigint;
  /** Makes event ids derive from it, so a retried command appends nothing. */
  readonly idempotencyKey?: string;
  readonly causationId?: string;
  readonly correlationId?: string;
}

/** A command as a caller gives it: the service adds the metadata (actor and time). */
export type Unsent<C> = C extends unknown ? Omit<C, 'metadata'> : never;

/** A platform actor (a job, a reactor): its id names it in every event's metadata. */
export function systemActor(id: string, roles: Actor['roles'] = []): Actor {
  return { userId: id, orgId: id, roles };
}

/** The platform reacting to an event: the command is caused by it, correlated with it, and happens when it did. */
export function reactingTo(
  e: RecordedEvent,
  actor: Actor,
  idempotencyKey: string,
  now: Date = e.createdAt,
): Invocation {
  return {
    actor,
    now,
    idempotencyKey,
    causationId: e.id,
    ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
  };
}

/** The handler's options for an invocation; a request's correlation comes from its context. */
export function handleOptions(by: Invocation): HandleOptions {
  const ctx = currentContext();
  const correlationId = by.correlationId ?? ctx?.correlationId;
  const causationId = by.causationId ?? ctx?.requestId;
  return {
    ...(by.ifMatch !== undefined ? { expectedRevision: by.ifMatch } : {}),
    ...(by.idempotencyKey ? { idempotencyKey: by.idempotencyKey } : {}),
    metadata: {
      actor: by.actor.userId,
      ...(correlationId ? { correlationId } : {}),
      ...(causationId ? { causationId } : {}),
    },
  };
}
