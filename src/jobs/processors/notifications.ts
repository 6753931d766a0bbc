import type { Job } from 'bullmq';
import type { Knex } from 'knex';
import type { CarrierService } from '../../application/carriers.js';
import type { EventStore } from '../../eventstore/types.js';
import { addressesOf } from '../../read-models/organisations/queries.js';
import { messagesFor, type Notification } from '../notifications/messages.js';
import type { NotificationTransport } from '../notifications/transport.js';
import type { CausedBy } from '../queues.js';
import { eventAt } from './events.js';

/**
 * Tells the people an event concerns. News older than `maxAgeMs` is dropped: a reactor rebuilt
 * from history must not mail everyone about last year's loads.
 */
export function notificationProcessor(deps: {
  store: EventStore;
  carriers: Pick<CarrierService, 'state'>;
  knex: Knex;
  transport: NotificationTransport;
  platformOrgId: string;
  maxAgeMs: number;
}) {
  return async (job: Job<CausedBy & { type: string }>) => {
    const e = await eventAt(deps.store, job.data.streamId, job.data.revision);
    if (Date.now() - e.createdAt.getTime() > deps.maxAgeMs) return { sent: 0, stale: true };
    let sent = 0;
    for (const [i, m] of (await messagesFor(deps, e, deps.platformOrgId)).entries()) {
      for (const { email, phone } of await addressesOf(deps.knex, m.audience)) {
        const messages: Notification[] = [{ channel: 'email', to: email, subject: m.subject, body: m.body }];
        if (m.sms && phone)
          messages.push({
            channel: 'sms',
            to: phone,
            subject: m.subject,
            body: `${m.subject}. ${m.body}`.slice(0, 320),
          });
        for (const message of messages) {
          // The same key on every retry of this job: the provider sends each message once.
          await deps.transport.send(message, `${job.id}-${i}-${message.channel}-${message.to}`);
          sent++;
        }
      }
    }
    return { sent };
  };
}
