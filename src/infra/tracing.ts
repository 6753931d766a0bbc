import {
  type Attributes,
  context,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';

/**
 * OpenTelemetry tracing, off unless configured: a command's trace runs from its HTTP request
 * through the handler and the append, and on through the log: the event's metadata carries its
 * W3C `traceparent`, so each projector that applies the event and each job the event causes
 * records a span in the same trace (and a job's own appends continue it).
 *
 * While tracing is off every helper here is a plain call: no spans, no context switches, no
 * metadata added.
 */

const TRACER = 'freight-backend';
let provider: NodeTracerProvider | undefined;

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces. */
  otlpUrl?: string;
  otlpHeaders?: Record<string, string>;
  /** Spans go here too (tests, or a console exporter). */
  exporter?: SpanExporter;
  /** Share of new traces kept (a caller's sampled traceparent is always followed). */
  sampleRatio?: number;
}

/** Starts the tracer provider for this process; answers a shutdown that flushes what is buffered. */
export function startTracing(opts: TracingOptions): { shutdown(): Promise<void> } {
  if (provider) throw new Error('tracing is already started in this process');
  const spanProcessors = [];
  if (opts.otlpUrl)
    spanProcessors.push(
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: opts.otlpUrl, ...(opts.otlpHeaders ? { headers: opts.otlpHeaders } : {}) }),
      ),
    );
  if (opts.exporter) spanProcessors.push(new SimpleSpanProcessor(opts.exporter));
  const p = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
    spanProcessors,
  });
  p.register({ propagator: new W3CTraceContextPropagator() });
  provider = p;
  return {
    async shutdown() {
      if (provider !== p) return;
      provider = undefined;
      await p.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

function tracer() {
  return trace.getTracer(TRACER);
}

/** The trace context a W3C `traceparent` (from event metadata, job data or a header) names. */
export function contextFrom(carrier: Record<string, unknown> | undefined): Context | undefined {
  if (!provider || !carrier || typeof carrier.traceparent !== 'string') return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, {
    traceparent: carrier.traceparent,
    ...(typeof carrier.tracestate === 'string' ? { tracestate: carrier.tracestate } : {}),
  });
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** `{ traceparent }` of the active span, for event metadata and job data; `{}` when there is none. */
export function traceCarrier(): { traceparent?: string } {
  if (!provider) return {};
  const span = trace.getActiveSpan();
  if (!span || !span.isRecording()) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent } : {};
}

/** The trace id of the active span (for log lines), when tracing. */
export function activeTraceId(): string | undefined {
  if (!provider) return undefined;
  const span = trace.getActiveSpan();
  return span?.isRecording() ? span.spanContext().traceId : undefined;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent (default: the active span). */
  parent?: Context;
  /** Other traces this work serves (a batch applying events of many commands). */
  links?: Context[];
  startTime?: number;
}

/**
 * Runs `fn` inside a new active span, ending it when `fn` settles and recording a thrown
 * error. Without tracing it only calls `fn` (with no span).
 */
export async function withSpan<T>(
  name: string,
  opts: SpanOptions,
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!provider) return fn(undefined);
  const parent = opts.parent ?? context.active();
  const links = (opts.links ?? []).flatMap((c) => {
    const sc = trace.getSpanContext(c);
    return sc ? [{ context: sc }] : [];
  });
  const span = tracer().startSpan(
    name,
    {
      kind: opts.kind ?? SpanKind.INTERNAL,
      ...(opts.attributes ? { attributes: opts.attributes } : {}),
      ...(links.length ? { links } : {}),
      ...(opts.startTime !== undefined ? { startTime: opts.startTime } : {}),
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** A span that starts and ends at given times under a given parent (work already done). */
export function recordSpan(
  name: string,
  opts: { parent: Context; startTime: number; endTime: number; attributes?: Attributes; error?: string },
): void {
  if (!provider) return;
  const span = tracer().startSpan(
    name,
    { kind: SpanKind.CONSUMER, startTime: opts.startTime, ...(opts.attributes ? { attributes: opts.attributes } : {}) },
    opts.parent,
  );
  if (opts.error) span.setStatus({ code: SpanStatusCode.ERROR, message: opts.error });
  span.end(opts.endTime);
}

export { SpanKind, SpanStatusCode };
