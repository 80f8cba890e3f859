/** Trace context in record headers: written and read back as W3C traceparent; off is the no-op tracer. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { contextWithParent, createTracing, spanContextFrom, TRACING_OFF, traceHeaders } from '../src/index.ts';

describe('tracing', () => {
  it('is off without an endpoint or exporter, and its spans record nothing', async () => {
    const tracing = await createTracing({ serviceName: 's', endpoint: '' });
    assert.equal(tracing, TRACING_OFF);
    const span = tracing.tracer.startSpan('x');
    assert.equal(span.isRecording(), false);
    assert.deepEqual(traceHeaders(span), {}, 'a no-op span has no valid context: no header');
  });

  it('writes traceparent as the W3C format and reads it back as the parent of the next span', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ serviceName: 's', exporter });
    const producer = tracing.tracer.startSpan('produce');
    const headers = traceHeaders(producer);
    const { traceId, spanId } = producer.spanContext();
    assert.deepEqual(headers, { traceparent: `00-${traceId}-${spanId}-01` });
    producer.end();

    // kafkajs hands headers back as Buffers.
    const parent = spanContextFrom({ traceparent: Buffer.from(headers.traceparent as string) });
    assert.deepEqual(parent, { traceId, spanId, traceFlags: 1, isRemote: true });
    const consumer = tracing.tracer.startSpan('apply', {}, contextWithParent(parent));
    consumer.end();
    const [, applied] = exporter.getFinishedSpans();
    assert.equal(applied?.spanContext().traceId, traceId);
    assert.equal(applied?.parentSpanContext?.spanId, spanId);
    await tracing.shutdown();
  });

  it('with an endpoint, exports over OTLP/HTTP to <endpoint>/v1/traces (at shutdown at the latest)', async () => {
    const requests: { url: string | undefined; bytes: number }[] = [];
    const server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.on('end', () => {
        requests.push({ url: req.url, bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const tracing = await createTracing({ serviceName: 's', endpoint: `http://127.0.0.1:${port}/` });
      assert.equal(tracing.enabled, true);
      tracing.tracer.startSpan('one').end();
      await tracing.shutdown();
      assert.equal(requests.length, 1);
      assert.equal(requests[0]?.url, '/v1/traces');
      assert.ok((requests[0]?.bytes ?? 0) > 0);
    } finally {
      server.close();
    }
  });

  it('ignores a missing or malformed traceparent', () => {
    assert.equal(spanContextFrom(undefined), undefined);
    assert.equal(spanContextFrom({}), undefined);
    assert.equal(spanContextFrom({ traceparent: 'not-a-traceparent' }), undefined);
    assert.equal(spanContextFrom({ traceparent: `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01` }), undefined, 'all-zero trace ID is invalid');
  });
});
