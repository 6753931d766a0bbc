import { z } from 'zod';
import type { CarrierService } from '../../application/carriers.js';
import type { VerificationJob } from '../../jobs/processors/verification.js';
import { type JobQueues, PRIORITY, QUEUE_NAMES, type QueueName, QUEUES } from '../../jobs/queues.js';
import { queueCounts } from '../../jobs/workers.js';
import { currentContext } from '../../infra/context.js';
import { traceCarrier } from '../../infra/tracing.js';
import { HttpProblem, PROBLEM_BASE } from '../errors.js';
import { uuidParam } from '../commands.js';
import { defineRoute, type Route } from '../route.js';

const queueName = z.enum(QUEUE_NAMES as [QueueName, ...QueueName[]]).meta({ description: 'The queue' });
const counts = z.record(z.string(), z.number().int());
const failedJob = z
  .object({
    id: z.string(),
    name: z.string(),
    data: z.unknown(),
    failedReason: z.string(),
    attemptsMade: z.number().int(),
    failedAt: z.string().nullable(),
    stack: z.string().nullable(),
  })
  .meta({ id: 'FailedJob' });

/** The admin's view of the job queues: depths, the dead letter, retries, and "verify now". */
export function jobRoutes(deps: { queues: JobQueues; carriers: Pick<CarrierService, 'state'> }): Route[] {
  const { queues } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/admin/jobs',
      operationId: 'jobQueues',
      summary: 'Every queue with its jobs counted by state (failed = the dead letter)',
      tags: ['Jobs'],
      roles: ['admin'],
      responses: { 200: { description: 'Counts by queue and state', schema: z.record(z.string(), counts) } },
      async handle() {
        return { status: 200, body: await queueCounts(queues) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/jobs/{queue}/failed',
      operationId: 'failedJobs',
      summary: 'Jobs that used up their attempts (the dead letter), newest first',
      tags: ['Jobs'],
      roles: ['admin'],
      params: z.object({ queue: queueName }),
      query: z.object({
        offset: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
      responses: {
        200: { description: 'Failed jobs', schema: z.object({ total: z.number().int(), jobs: z.array(failedJob) }) },
      },
      async handle({ params, query }) {
        const q = queues.queue(params.queue);
        const [total, jobs] = await Promise.all([
          q.getFailedCount(),
          q.getFailed(query.offset, query.offset + query.limit - 1),
        ]);
        return {
          status: 200,
          body: {
            total,
            jobs: jobs.map((j) => ({
              id: String(j.id),
              name: j.name,
              data: j.data,
              failedReason: j.failedReason ?? '',
              attemptsMade: j.attemptsMade,
              failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
              stack: j.stacktrace?.[j.stacktrace.length - 1] ?? null,
            })),
          },
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/jobs/{queue}/{jobId}/retry',
      operationId: 'retryJob',
      summary: 'Send a failed job back to its queue, with its attempts reset',
      tags: ['Jobs'],
      roles: ['admin'],
      params: z.object({ queue: queueName, jobId: z.string().min(1).max(200) }),
      responses: { 202: { description: 'Queued again', schema: z.object({ id: z.string(), state: z.string() }) } },
      async handle({ params }) {
        const job = await queues.queue(params.queue).getJob(params.jobId);
        if (!job) throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No job ${params.jobId} in ${params.queue}`);
        const state = await job.getState();
        if (state !== 'failed')
          throw new HttpProblem(409, `${PROBLEM_BASE}job-not-failed`, `Job ${params.jobId} is ${state}, not failed`);
        await job.retry('failed', { resetAttemptsMade: true });
        return { status: 202, body: { id: params.jobId, state: await job.getState() } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/jobs/{queue}/failed/retry',
      operationId: 'retryFailedJobs',
      summary: 'Send every failed job of a queue back to it',
      tags: ['Jobs'],
      roles: ['admin'],
      params: z.object({ queue: queueName }),
      responses: { 202: { description: 'Queued again', schema: z.object({ retried: z.number().int() }) } },
      async handle({ params }) {
        const q = queues.queue(params.queue);
        const retried = await q.getFailedCount();
        await q.retryJobs({ state: 'failed', count: 1_000 });
        return { status: 202, body: { retried } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/carriers/{carrierId}/verification-requests',
      operationId: 'requestVerification',
      summary: 'Queue an FMCSA check of the carrier now (admin); the result is appended to its stream',
      tags: ['Carriers'],
      roles: ['admin'],
      params: z.object({ carrierId: uuidParam('The carrier') }),
      responses: { 202: { description: 'Queued', schema: z.object({ jobId: z.string(), queue: z.string() }) } },
      async handle({ params }) {
        if ((await deps.carriers.state(params.carrierId)).status === 'none')
          throw new HttpProblem(404, `${PROBLEM_BASE}not-found`, `No carrier ${params.carrierId}`);
        const ctx = currentContext();
        const data: VerificationJob = {
          carrierId: params.carrierId,
          reason: 'requested',
          ...(ctx?.correlationId ? { correlationId: ctx.correlationId } : {}),
        };
        const job = await queues
          .queue(QUEUES.verification)
          .add('requested', { ...data, ...traceCarrier() }, { priority: PRIORITY.request });
        return { status: 202, body: { jobId: String(job.id), queue: QUEUES.verification } };
      },
    }),
  ];
}
