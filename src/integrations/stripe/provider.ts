import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import Stripe from 'stripe';
import { SpanKind, withSpan } from '../../infra/tracing.js';

/** The payment provider as payments need it: charge a shipper, pay a carrier. Stripe implements it. */
export interface PaymentProvider {
  /** Charges the shipper's saved payment method; a decline is an answer, not an error. */
  charge(p: ChargeRequest): Promise<{ outcome: 'succeeded'; ref: string } | { outcome: 'declined'; reason: string }>;
  /** Transfers the carrier's payout to its Connect account. */
  transfer(p: TransferRequest): Promise<{ ref: string }>;
  /** Returns part or all of a charge to the shipper. */
  refund(p: {
    paymentId: string;
    refundId: string;
    chargeRef: string;
    amountCents: number;
    idempotencyKey: string;
  }): Promise<{ ref: string }>;
}

export interface ChargeRequest {
  paymentId: string;
  /** Ours: webhooks about the PaymentIntent carry it back in its metadata. */
  chargeId: string;
  amountCents: number;
  currency: string;
  customer: string;
  paymentMethod: string;
  /** Separate charges and transfers are tied together by a transfer group per load. */
  transferGroup: string;
  idempotencyKey: string;
}
export interface TransferRequest {
  paymentId: string;
  amountCents: number;
  currency: string;
  destination: string;
  transferGroup: string;
  idempotencyKey: string;
}

/** The provider could not answer (5xx, timeout, no connection, rate limit, circuit open): try again later. */
export class ProviderUnavailable extends Error {
  constructor(
    message: string,
    readonly retryInMs = 0,
  ) {
    super(message);
    this.name = 'ProviderUnavailable';
  }
}
/** The provider refused the request (an invalid or closed account, a bad parameter): retrying the same will not help. */
export class ProviderRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderRejected';
  }
}

export interface StripeOptions {
  secretKey: string;
  /** For a local stand-in: where the client sends its requests. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  timeoutMs: number;
  /** The client's own network retries (exponential backoff with jitter, same idempotency key). */
  networkRetries: number;
  breakerFailures: number;
  breakerOpenMs: number;
  /** Told of every call's outcome (metrics). */
  observe?: (operation: string, outcome: 'ok' | 'declined' | 'unavailable' | 'rejected', ms: number) => void;
}

// 409: another request with the same idempotency key is still in flight (a retry that overtook a slow first try).
const transient = (err: Error) =>
  err instanceof Stripe.errors.StripeConnectionError ||
  err instanceof Stripe.errors.StripeAPIError ||
  err instanceof Stripe.errors.StripeRateLimitError ||
  (err instanceof Stripe.errors.StripeError && err.statusCode === 409);

/**
 * Stripe: PaymentIntents confirmed off-session against the shipper's saved method, and Connect
 * transfers to the carrier. Every call carries the caller's idempotency key (derived from the
 * event that caused it), so a retried job cannot charge or pay twice; a circuit breaker stops
 * calling a Stripe that keeps failing.
 */
export class StripeProvider implements PaymentProvider {
  readonly stripe: Stripe;
  private readonly breaker;
  private openedAt = 0;

  constructor(private readonly options: StripeOptions) {
    this.stripe = new Stripe(options.secretKey, {
      maxNetworkRetries: options.networkRetries,
      timeout: options.timeoutMs,
      telemetry: false,
      ...(options.host ? { host: options.host } : {}),
      ...(options.port ? { port: options.port } : {}),
      ...(options.protocol ? { protocol: options.protocol } : {}),
    });
    this.breaker = circuitBreaker(handleWhen(transient), {
      halfOpenAfter: options.breakerOpenMs,
      breaker: new ConsecutiveBreaker(options.breakerFailures),
    });
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
    });
  }

  get circuit(): 'closed' | 'open' | 'half-open' {
    const s = this.breaker.state;
    if (s === CircuitState.Closed) return 'closed';
    if (s === CircuitState.HalfOpen) return 'half-open';
    return Date.now() < this.openedAt + this.options.breakerOpenMs ? 'open' : 'half-open';
  }

  async charge(p: ChargeRequest) {
    try {
      const intent = await this.call(
        () =>
          this.stripe.paymentIntents.create(
            {
              amount: p.amountCents,
              currency: p.currency,
              customer: p.customer,
              payment_method: p.paymentMethod,
              confirm: true,
              off_session: true,
              transfer_group: p.transferGroup,
              metadata: { paymentId: p.paymentId, chargeId: p.chargeId },
            },
            { idempotencyKey: p.idempotencyKey },
          ),
        'charge',
      );
      if (intent.status === 'succeeded') return { outcome: 'succeeded' as const, ref: intent.id };
      return { outcome: 'declined' as const, reason: `payment intent ${intent.status}` };
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError)
        return { outcome: 'declined' as const, reason: err.decline_code ?? err.code ?? err.message };
      throw err;
    }
  }

  async transfer(p: TransferRequest) {
    const t = await this.call(
      () =>
        this.stripe.transfers.create(
          {
            amount: p.amountCents,
            currency: p.currency,
            destination: p.destination,
            transfer_group: p.transferGroup,
            metadata: { paymentId: p.paymentId },
          },
          { idempotencyKey: p.idempotencyKey },
        ),
      'transfer',
    );
    return { ref: t.id };
  }

  async refund(p: {
    paymentId: string;
    refundId: string;
    chargeRef: string;
    amountCents: number;
    idempotencyKey: string;
  }) {
    const r = await this.call(
      () =>
        this.stripe.refunds.create(
          {
            payment_intent: p.chargeRef,
            amount: p.amountCents,
            metadata: { paymentId: p.paymentId, refundId: p.refundId },
          },
          { idempotencyKey: p.idempotencyKey },
        ),
      'refund',
    );
    return { ref: r.id };
  }

  /** One Stripe operation through the breaker (a client span when tracing). */
  private call<T>(fn: () => Promise<T>, operation = 'call'): Promise<T> {
    return withSpan(
      `stripe ${operation}`,
      { kind: SpanKind.CLIENT, attributes: { 'freight.operation': operation } },
      (span) => this.callOnce(fn, operation, (o) => span?.setAttribute('freight.outcome', o)),
    );
  }

  private async callOnce<T>(fn: () => Promise<T>, operation: string, traced: (o: string) => void): Promise<T> {
    const started = performance.now();
    const observe = (outcome: 'ok' | 'declined' | 'unavailable' | 'rejected') => {
      traced(outcome);
      this.options.observe?.(operation, outcome, performance.now() - started);
    };
    try {
      const r = await this.breaker.execute(fn);
      observe('ok');
      return r;
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError) observe('declined');
      else if (err instanceof BrokenCircuitError || (err instanceof Error && transient(err))) observe('unavailable');
      else observe('rejected');
      if (err instanceof BrokenCircuitError)
        throw new ProviderUnavailable(
          'Stripe circuit open',
          Math.max(0, this.openedAt + this.options.breakerOpenMs - Date.now()),
        );
      if (err instanceof Stripe.errors.StripeCardError) throw err;
      if (err instanceof Error && transient(err)) throw new ProviderUnavailable(`Stripe unavailable: ${err.message}`);
      throw new ProviderRejected(`Stripe refused: ${(err as Error).message}`);
    }
  }
}
