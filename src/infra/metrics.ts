import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus metrics, served at GET /metrics. One registry per process; tests make
 * their own. ops/grafana/dashboards/freight.json charts them (a unit test keeps its queries to
 * names defined here).
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly appendDuration = new Histogram({
    name: 'eventstore_append_duration_seconds',
    help: 'Event store appends, by outcome (ok, conflict, error)',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly appendConflicts = new Counter({
    name: 'eventstore_append_conflicts_total',
    help: 'Appends refused for a wrong expected revision',
    registers: [this.registry],
  });
  readonly eventsAppended = new Counter({
    name: 'events_appended_total',
    help: 'Events appended by this process, by type (LoadPosted, LoadBooked, LoadDelivered, ChargeSucceeded, ChargeFailed…)',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly projectionLag = new Gauge({
    name: 'projection_lag_events',
    help: 'Events a projector has yet to apply (counted up to a cap)',
    labelNames: ['projector', 'state'],
    registers: [this.registry],
  });
  readonly projectionParked = new Gauge({
    name: 'projection_parked_events',
    help: "Events a projector's live generation could not apply, by status: parked (passed), stopped (the projector waits on it), retrying, skipping",
    labelNames: ['projector', 'status'],
    registers: [this.registry],
  });
  readonly deliveryHeldSeconds = new Gauge({
    name: 'eventstore_delivery_held_back_seconds',
    help: 'How long the oldest committed event subscribers cannot be given yet has waited (Postgres: behind an open append)',
    registers: [this.registry],
  });
  readonly deliveryHeldEvents = new Gauge({
    name: 'eventstore_delivery_held_back_events',
    help: 'Committed events subscribers cannot be given yet (counted up to 10,001)',
    registers: [this.registry],
  });
  readonly socketMessages = new Counter({
    name: 'socketio_messages_total',
    help: 'Messages broadcast to dashboard rooms (once per message, whatever the number of clients), by event',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly socketConnections = new Gauge({
    name: 'socketio_connections',
    help: 'Socket.IO clients connected to this process',
    registers: [this.registry],
  });
  readonly jobsCompleted = new Counter({
    name: 'jobs_completed_total',
    help: 'Jobs completed, by queue',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  readonly jobsFailed = new Counter({
    name: 'jobs_failed_total',
    help: 'Job attempts that failed, by queue and whether the job will be retried or went to the dead-letter (failed) state',
    labelNames: ['queue', 'final'],
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'job_duration_seconds',
    help: 'Time a job took to process, by queue',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'job_queue_depth',
    help: 'Jobs in a queue, by state',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });
  readonly fmcsaRequests = new Histogram({
    name: 'fmcsa_request_duration_seconds',
    help: 'FMCSA QCMobile calls, by resource and outcome',
    labelNames: ['resource', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly stripeRequests = new Histogram({
    name: 'stripe_request_duration_seconds',
    help: 'Stripe calls, by operation (charge, transfer, refund) and outcome',
    labelNames: ['operation', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers: [this.registry],
  });
  /** How long after delivery the shipper's money came in (charge) and the carrier was paid (payout): the business's cash cycle. */
  readonly paymentStage = new Histogram({
    name: 'payment_stage_seconds',
    help: 'Time from delivery to a charge or payout outcome, by stage (charge, payout, refund) and outcome (succeeded, failed)',
    labelNames: ['stage', 'outcome'],
    buckets: [
      1,
      10,
      60,
      600,
      3_600,
      6 * 3_600,
      86_400,
      3 * 86_400,
      7 * 86_400,
      15 * 86_400,
      30 * 86_400,
      45 * 86_400,
      60 * 86_400,
    ],
    registers: [this.registry],
  });
  readonly stripeCircuit = new Gauge({
    name: 'stripe_circuit_open',
    help: '1 while the Stripe circuit breaker is open (or half-open), else 0',
    registers: [this.registry],
  });
  readonly fmcsaCircuit = new Gauge({
    name: 'fmcsa_circuit_open',
    help: '1 while the FMCSA circuit breaker is open (or half-open), else 0',
    registers: [this.registry],
  });

  /** Collectors that read state at scrape time (queue depths from Redis). */
  private readonly collectors: (() => Promise<void>)[] = [];
  onScrape(collect: () => Promise<void>): void {
    this.collectors.push(collect);
  }

  async text(): Promise<string> {
    await Promise.all(this.collectors.map((c) => c().catch(() => undefined)));
    return this.registry.metrics();
  }
}
