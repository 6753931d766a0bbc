import type { JobsOptions } from 'bullmq';
import type { RecordedEvent } from '../eventstore/types.js';
import type { AtLeastOnceProjector } from '../projections/types.js';
import { NOTIFIED_EVENTS } from '../jobs/notifications/messages.js';
import type { PaymentJob } from '../jobs/processors/payments.js';
import type { VerificationJob } from '../jobs/processors/verification.js';
import { causedBy, jobIdFor, type JobQueues, PRIORITY, type QueueName, QUEUES } from '../jobs/queues.js';
import { CARRIER_STREAM } from '../domain/carrier/stream.js';
import { LOAD_STREAM } from '../domain/load/stream.js';
import { PAYMENT_STREAM, paymentIdOf } from '../domain/payment/stream.js';

/**
 * Reactors start jobs: each follows the log with a checkpoint, like a projector (the log is the
 * outbox), and adds one job per event it reacts to. The job id derives from the event id, so a
 * batch replayed after a crash adds nothing twice (BullMQ ignores an id it already holds).
 */

interface Planned {
  name: string;
  data: object;
  opts?: JobsOptions;
}

function reactor(
  name: string,
  queues: JobQueues,
  queue: QueueName,
  spec: {
    eventTypes: string[];
    streamPrefixes: string[];
    plan: (e: RecordedEvent) => Promise<Planned | undefined> | Planned | undefined;
  },
): AtLeastOnceProjector {
  return {
    kind: 'at-least-once',
    name,
    version: 1,
    eventTypes: spec.eventTypes,
    streamPrefixes: spec.streamPrefixes,
    async apply(events) {
      const jobs: (Planned & { opts: JobsOptions })[] = [];
      for (const e of events) {
        const p = await spec.plan(e);
        // The event's traceparent makes the job's span part of the command's trace.
        const traced = typeof e.metadata.traceparent === 'string' ? { traceparent: e.metadata.traceparent } : {};
        if (p)
          jobs.push({
            ...p,
            data: { ...p.data, ...traced },
            opts: { ...p.opts, jobId: jobIdFor(name.replace(/_/g, '-'), e.id) },
          });
      }
      if (jobs.length) await queues.queue(queue).addBulk(jobs);
    },
  };
}

/** Registering a carrier, and its MC number changing, queue an FMCSA check. */
export function verificationRequests(queues: JobQueues): AtLeastOnceProjector {
  return reactor('verification_requests', queues, QUEUES.verification, {
    eventTypes: ['CarrierRegistered', 'CarrierMcNumberChanged'],
    streamPrefixes: [CARRIER_STREAM],
    plan: (e) => ({
      name: e.type === 'CarrierRegistered' ? 'registered' : 'mc-number-changed',
      data: {
        carrierId: e.streamId.slice(CARRIER_STREAM.length),
        reason: e.type === 'CarrierRegistered' ? 'registered' : 'mc-number-changed',
        causationId: e.id,
        ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
      } satisfies VerificationJob,
      opts: { priority: PRIORITY.request },
    }),
  });
}

/** A delivery or a released booking scores the carrier (the job records the outcome). */
export function performanceRequests(queues: JobQueues): AtLeastOnceProjector {
  // Named as the reactor that recorded outcomes inline before the jobs existed: it keeps its checkpoint.
  return reactor('carrier_performance', queues, QUEUES.performance, {
    eventTypes: ['LoadDelivered', 'LoadBookingReleased'],
    streamPrefixes: [LOAD_STREAM],
    plan: (e) => ({ name: e.type, data: causedBy(e) }),
  });
}

/** Events people are told of: the notification job works out who and how. */
export function notificationRequests(queues: JobQueues): AtLeastOnceProjector {
  return reactor('notification_requests', queues, QUEUES.notifications, {
    eventTypes: [...NOTIFIED_EVENTS],
    streamPrefixes: [LOAD_STREAM, CARRIER_STREAM],
    plan: (e) =>
      e.type === 'CarrierVerificationRecorded' && (e.data as { verified: boolean }).verified
        ? undefined
        : { name: e.type, data: { ...causedBy(e), type: e.type } },
  });
}

/** An invoice is charged; a succeeded charge (or QuickPay) pays the carrier when due; a refund is sent back. */
export function paymentRequests(queues: JobQueues): AtLeastOnceProjector {
  return reactor('payment_requests', queues, QUEUES.payments, {
    eventTypes: ['InvoiceIssued', 'ChargeSucceeded', 'QuickPayRequested', 'RefundIssued'],
    streamPrefixes: [PAYMENT_STREAM],
    plan: (e) => ({
      name: e.type === 'InvoiceIssued' ? 'charge' : e.type === 'RefundIssued' ? 'refund' : 'payout',
      data: {
        paymentId: paymentIdOf(e.streamId),
        ...(e.type === 'InvoiceIssued' ? { attempt: 1 } : {}),
        ...(e.type === 'RefundIssued' ? { refundId: (e.data as { refundId: string }).refundId } : {}),
        causationId: e.id,
        ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
      } satisfies PaymentJob,
    }),
  });
}

export function jobReactors(queues: JobQueues): AtLeastOnceProjector[] {
  return [
    verificationRequests(queues),
    performanceRequests(queues),
    notificationRequests(queues),
    paymentRequests(queues),
  ];
}
