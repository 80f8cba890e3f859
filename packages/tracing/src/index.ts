/**
 * Trace context across Kafka: W3C `traceparent` (and `tracestate`) in record headers, spans through
 * OpenTelemetry. Off unless an OTLP endpoint (or, in tests, an exporter) is given: then the tracer
 * is the API's no-op tracer, the SDK and exporter are never loaded, and callers skip the headers
 * altogether (they check `enabled`), so tracing off costs one boolean test per batch.
 */
import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

export type Tracing = {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports what is buffered and stops (service shutdown). */
  shutdown(): Promise<void>;
};

/** The API's no-op tracer (no provider is ever registered globally): spans cost nothing. */
export const TRACING_OFF: Tracing = {
  enabled: false,
  tracer: new ProxyTracerProvider().getTracer('dirstream'),
  shutdown: async () => {},
};

export type TracingOptions = {
  readonly serviceName: string;
  /** OTLP/HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT` or `tracing.otlpEndpoint`); spans go to `<endpoint>/v1/traces`. */
  readonly endpoint?: string | undefined;
  /** Instead of OTLP (tests: an InMemorySpanExporter); spans are exported as they end. */
  readonly exporter?: SpanExporter;
};

/** A tracer provider of its own (never the global one): each service passes its Tracing down. */
export async function createTracing(options: TracingOptions): Promise<Tracing> {
  if (options.exporter === undefined && (options.endpoint === undefined || options.endpoint === '')) return TRACING_OFF;
  const { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  let processor: InstanceType<typeof BatchSpanProcessor> | InstanceType<typeof SimpleSpanProcessor>;
  if (options.exporter !== undefined) {
    processor = new SimpleSpanProcessor(options.exporter);
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const url = `${(options.endpoint as string).replace(/\/+$/, '')}/v1/traces`;
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url }));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [processor],
  });
  return { enabled: true, tracer: provider.getTracer('dirstream'), shutdown: () => provider.shutdown() };
}

const propagator = new W3CTraceContextPropagator();

/** `traceparent` / `tracestate` of a span context, as record headers. */
export function traceHeadersOf(spanContext: SpanContext): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), carrier, defaultTextMapSetter);
  return carrier;
}

/** `traceparent` / `tracestate` of `span`, as record headers. */
export function traceHeaders(span: Span): Record<string, string> {
  return traceHeadersOf(span.spanContext());
}

/** Kafka record headers as kafkajs gives them (Buffer, string, or a list of either). */
export type RecordHeaders = Readonly<Record<string, Buffer | string | readonly (Buffer | string)[] | undefined>> | undefined;

function headerText(headers: RecordHeaders, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : String(first);
}

/** The remote span context of a record's `traceparent`, if it carries a valid one. */
export function spanContextFrom(headers: RecordHeaders): SpanContext | undefined {
  const traceparent = headerText(headers, TRACEPARENT_HEADER);
  if (traceparent === undefined) return undefined;
  const carrier: Record<string, string> = { [TRACEPARENT_HEADER]: traceparent };
  const tracestate = headerText(headers, TRACESTATE_HEADER);
  if (tracestate !== undefined) carrier[TRACESTATE_HEADER] = tracestate;
  const extracted = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
  return extracted !== undefined && trace.isSpanContextValid(extracted) ? extracted : undefined;
}

/** A context whose parent is `parent` (a remote span context), for `tracer.startSpan(name, options, context)`. */
export function contextWithParent(parent: SpanContext | undefined): Context {
  return parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
}

export type { Link, Span, SpanContext, Tracer };
