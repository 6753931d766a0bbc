import type { Job } from 'bullmq';
import type { Knex } from 'knex';
import type { EventStore } from '../../eventstore/types.js';
import { addressesOf, messagesFor } from '../notifications/messages.js';
import type { NotificationTransport } from '../notifications/transport.js';
import type { CausedBy } from '../reactors.js';
import { eventAt } from './events.js';

/**
 * Tells the people an event concerns. News older than `maxAgeMs` is dropped: a reactor rebuilt
 * from history must not mail everyone about last year's loads.
 */
export function notificationProcessor(deps: { store: EventStore; knex: Knex; transport: NotificationTransport; platformOrgId: string; maxAgeMs: number }) {
  return async (job: Job<CausedBy & { type: string }>) => {
    const e = await eventAt(deps.store, job.data.streamId, job.data.revision);
    if (Date.now() - e.createdAt.getTime() > deps.maxAgeMs) return { sent: 0, stale: true };
    let sent = 0;
    for (const [i, m] of (await messagesFor(deps.store, e, deps.platformOrgId)).entries()) {
      for (const to of await addressesOf(deps.knex, m.audience)) {
        // The same key on every retry of this job: the provider sends each message once.
        await deps.transport.send({ channel: 'email', to, subject: m.subject, body: m.body }, `${job.id}-${i}-${to}`);
        sent++;
      }
    }
    return { sent };
  };
}
