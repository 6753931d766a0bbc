import { randomUUID } from 'node:crypto';
import { uuidV5 } from '../infra/uuid5.js';
import { z } from 'zod';
import type { HandleResult } from '../application/handle.js';
import { formatPosition } from '../eventstore/position.js';
import type { Answer, RouteInput } from './route.js';

export const commandAnswer = z
  .object({
    streamId: z.string(),
    revision: z.string().meta({
      description: 'The stream revision after the command (decimal text); send it as If-Match to pin the next command',
    }),
    position: z.string().nullable().meta({
      description:
        'Global position of the last event appended ("commit/prepare"); pass as ?minPosition= to read your own write',
    }),
    events: z
      .array(z.string())
      .meta({ description: 'Types of the events the command appended (empty when it changed nothing)' }),
    replayed: z
      .boolean()
      .meta({ description: 'True when the Idempotency-Key showed the command had already been applied' }),
  })
  .catchall(z.unknown())
  .meta({ id: 'CommandAnswer' });

export const uuidParam = (description: string) => z.uuid().meta({ description });

// Ids of created aggregates derive from the caller's Idempotency-Key, so a retried create
// lands on the same stream (and is recognised there) instead of creating a twin.
const ID_NAMESPACE = '9b7e4a1c-2d3f-4e5a-8b6c-7d8e9f0a1b2c';
export function newId(input: Pick<RouteInput<unknown, unknown, unknown>, 'idempotencyKey'>, given?: string): string {
  if (given) return given;
  return input.idempotencyKey ? uuidV5(input.idempotencyKey, ID_NAMESPACE) : randomUUID();
}

export function answer(
  result: HandleResult<{ type: string }>,
  status: 201 | 202 = 202,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Answer {
  const revision = result.revision.toString();
  return {
    status,
    headers: { ...(result.revision >= 0n ? { ETag: `"${revision}"` } : {}), ...headers },
    body: {
      streamId: result.streamId,
      revision,
      position: result.position ? formatPosition(result.position) : null,
      events: result.events.map((e) => e.type),
      replayed: result.replayed,
      ...extra,
    },
  };
}
