import type { Services } from '../application/services.js';
import { type Job, type Processor, Worker } from 'bullmq';
import type { Knex } from 'knex';
import type { EventStore } from '../eventstore/types.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import { contextFrom, SpanKind, withSpan } from '../infra/tracing.js';
import type { FmcsaClient } from '../integrations/fmcsa/client.js';
import type { PaymentProvider } from '../integrations/stripe/provider.js';
import { paymentProcessor } from './processors/payments.js';
import type { NotificationTransport } from './notifications/transport.js';
import { expirySweeper, performanceProcessor } from './processors/loads.js';
import { notificationProcessor } from './processors/notifications.js';
import { recheckProcessor } from './processors/recheck.js';
import { verificationProcessor } from './processors/verification.js';
import { type JobQueues, QUEUE_NAMES, type QueueName, QUEUES } from './queues.js';

export interface WorkerDeps {
  queues: JobQueues;
  store: EventStore;
  /** The aggregates' services: jobs run commands through them, as routes do. */
  services: Pick<Services, 'loads' | 'carriers' | 'organisations' | 'payments'>;
  knex: Knex;
  logger: Logger;
  metrics?: Metrics;
  /** Absent (no FMCSA_WEB_KEY): no verification worker runs, and verifications wait in their queue. */
  fmcsa?: FmcsaClient;
  /** FMCSA checks per second across every worker process (a BullMQ limiter on the queue). */
  fmcsaPerSecond: number;
  insuranceTrustMs: number;
  transport: NotificationTransport;
  platformOrgId: string;
  notificationMaxAgeMs: number;
  /** Absent (no STRIPE_SECRET_KEY): no payments worker runs, and charges and payouts wait in their queue. */
  payments?: { provider: PaymentProvider; chargeAttempts: number; payoutAttempts: number; retryMs: number };
  /** Cron pattern of the daily re-check (UTC); absent: not scheduled. */
  recheckPattern?: string;
  /** How often due postings are expired; absent: not scheduled. */
  expirySweepMs?: number;
}

/**
 * A limiter of `perSecond` jobs a second, in windows of a tenth of a second (or one job per
 * window when slower): BullMQ counts per fixed window, so small windows keep any one-second
 * span within `perSecond` plus one window's worth instead of up to twice the rate.
 */
export function limiterFor(perSecond: number): { max: number; duration: number } {
  const max = Math.max(1, Math.floor(perSecond / 10));
  return { max, duration: Math.round((1000 * max) / perSecond) };
}

/** Starts every queue's worker in this process. */
export async function startWorkers(deps: WorkerDeps): Promise<{ workers: Worker[]; close(): Promise<void> }> {
  const { queues, store, knex, logger, metrics } = deps;
  const { loads, carriers, organisations, payments } = deps.services;
  const workers: Worker[] = [];
  const start = <T>(
    name: QueueName,
    processor: Processor<T>,
    opts: { concurrency: number; limiter?: { max: number; duration: number } },
  ) => {
    const w = new Worker<T>(
      name,
      async (job: Job<T>, token?: string) => {
        const end = metrics?.jobDuration.startTimer({ queue: name });
        // A job caused by an event continues that event's trace (its data carries the traceparent).
        const parent = contextFrom(job.data as Record<string, unknown> | undefined);
        try {
          return await withSpan(
            `job ${name} ${job.name}`,
            {
              kind: SpanKind.CONSUMER,
              ...(parent ? { parent } : {}),
              attributes: {
                'freight.queue': name,
                'freight.job_id': job.id ?? '',
                'freight.attempt': job.attemptsMade + 1,
              },
            },
            () => processor(job, token),
          );
        } finally {
          end?.();
        }
      },
      { connection: queues.workerConnection(), prefix: queues.prefix, ...opts },
    );
    w.on('completed', () => metrics?.jobsCompleted.inc({ queue: name }));
    w.on('failed', (job, err) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      metrics?.jobsFailed.inc({ queue: name, final: String(final) });
      logger.warn(final ? 'job failed for good: in the dead-letter (failed) state' : 'job failed; it will be retried', {
        queue: name,
        jobId: job?.id,
        attempt: job?.attemptsMade,
        err,
      });
    });
    w.on('error', (err) => logger.warn('job worker problem', { queue: name, err }));
    workers.push(w as Worker);
  };

  if (deps.fmcsa) {
    start(
      QUEUES.verification,
      verificationProcessor({ carriers, fmcsa: deps.fmcsa, insuranceTrustMs: deps.insuranceTrustMs }),
      {
        concurrency: 16,
        limiter: limiterFor(deps.fmcsaPerSecond),
      },
    );
  } else {
    logger.warn('FMCSA_WEB_KEY is not set: carrier verifications wait in their queue until a worker with a key runs');
  }
  if (deps.payments) {
    start(
      QUEUES.payments,
      paymentProcessor({
        payments,
        organisations,
        carriers,
        queue: queues.queue(QUEUES.payments),
        ...deps.payments,
        ...(metrics
          ? { observe: (stage, outcome, seconds) => metrics.paymentStage.observe({ stage, outcome }, seconds) }
          : {}),
      }),
      { concurrency: 8 },
    );
  } else {
    logger.warn('STRIPE_SECRET_KEY is not set: charges and payouts wait in their queue until a worker with a key runs');
  }
  start(QUEUES.recheck, recheckProcessor({ knex, verification: queues.queue(QUEUES.verification) }), {
    concurrency: 1,
  });
  start(QUEUES.performance, performanceProcessor({ store, loads, carriers }), { concurrency: 1 });
  start(QUEUES.expiry, expirySweeper({ loads, knex }), { concurrency: 1 });
  start(
    QUEUES.notifications,
    notificationProcessor({
      store,
      carriers,
      knex,
      transport: deps.transport,
      platformOrgId: deps.platformOrgId,
      maxAgeMs: deps.notificationMaxAgeMs,
    }),
    { concurrency: 8 },
  );
  if (deps.recheckPattern) {
    await queues
      .queue(QUEUES.recheck)
      .upsertJobScheduler('daily-recheck', { pattern: deps.recheckPattern, tz: 'UTC' }, { name: 'recheck', data: {} });
  }
  if (deps.expirySweepMs) {
    await queues.queue(QUEUES.expiry).upsertJobScheduler(
      'expire-due',
      { every: deps.expirySweepMs },
      {
        name: 'expire-due',
        data: {},
        opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      },
    );
  }
  logger.info('job workers started', { queues: workers.map((w) => w.name), fmcsa: deps.fmcsa ? 'on' : 'off' });

  return {
    workers,
    // Finishes the jobs in hand, takes no new ones.
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(workers.map((w) => (w.opts.connection as { disconnect?: () => void }).disconnect?.()));
    },
  };
}

/** Queue depths by state, for /metrics and the admin API. */
export async function queueCounts(queues: JobQueues): Promise<Record<QueueName, Record<string, number>>> {
  const entries = await Promise.all(
    QUEUE_NAMES.map(
      async (name) =>
        [
          name,
          await queues.queue(name).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
        ] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<QueueName, Record<string, number>>;
}
