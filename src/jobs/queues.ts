import type { RecordedEvent } from '../eventstore/types.js';
import { type JobsOptions, Queue } from 'bullmq';
import { Redis } from 'ioredis';

/** Every queue, by what it does. Names are part of the Redis keys and the admin API: keep them. */
export const QUEUES = {
  /** Check a carrier against the FMCSA register (on registration, MC change, daily re-check). */
  verification: 'carrier-verification',
  /** Once a day: queue a re-check of every carrier, in batches. */
  recheck: 'carrier-recheck',
  /** Score a carrier for a delivered or released load. */
  performance: 'carrier-performance',
  /** Expire a posting whose time is up. */
  expiry: 'load-expiry',
  /** Tell people (email, SMS) of what happened to their loads and carriers. */
  notifications: 'notifications',
  /** Charge shippers and pay carriers through Stripe. */
  payments: 'payments',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const QUEUE_NAMES = Object.values(QUEUES) as QueueName[];

/** BullMQ: a lower number runs first. A carrier waiting to bid goes before the nightly re-check. */
export const PRIORITY = { request: 1, recheck: 10 } as const;

export interface JobSettings {
  /** Attempts before a job goes to the dead-letter (failed) state. */
  attempts: number;
  /** First retry delay; doubles each attempt, with jitter. */
  backoffMs: number;
}

/** A job id from the event that caused it (BullMQ ids may not contain ':'). */
export const jobIdFor = (kind: string, eventId: string) => `${kind}-${eventId}`;

/**
 * The queues of one deployment, on Redis under `<REDIS_KEY_PREFIX>bull`. BullMQ does its own key
 * prefixing (an ioredis keyPrefix would break its scripts), so it gets its own connection.
 */
export class JobQueues {
  readonly prefix: string;
  readonly connection: Redis;
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    readonly redisUrl: string,
    keyPrefix: string,
    readonly settings: JobSettings = { attempts: 8, backoffMs: 2_000 },
  ) {
    this.prefix = `${keyPrefix}bull`;
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  }

  /** What every job gets unless it says otherwise: retries with backoff; failures kept (dead letter). */
  get defaults(): JobsOptions {
    return {
      attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs, jitter: 0.5 },
      // Completed jobs stay a week so a replayed reactor batch finds their ids and adds nothing.
      removeOnComplete: { age: 7 * 24 * 3600, count: 200_000 },
      removeOnFail: false,
    };
  }

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix, defaultJobOptions: this.defaults });
      this.queues.set(name, q);
    }
    return q;
  }

  /** A fresh connection for a worker (BullMQ blocks on it). */
  workerConnection(): Redis {
    return new Redis(this.redisUrl, { maxRetriesPerRequest: null });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    this.connection.disconnect();
  }
}

/** What every job of a reactor carries: the event that caused it, for tracing and idempotency. */
export interface CausedBy {
  eventId: string;
  streamId: string;
  /** Decimal text (bigint). */
  revision: string;
  correlationId?: string;
}

export const causedBy = (e: RecordedEvent): CausedBy => ({
  eventId: e.id,
  streamId: e.streamId,
  revision: e.revision.toString(),
  ...(typeof e.metadata.correlationId === 'string' ? { correlationId: e.metadata.correlationId } : {}),
});
