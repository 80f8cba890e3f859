/**
 * One trace from a directory change to the downstream event (W3C trace context in Kafka headers):
 * a user removed from the directory → the poller's produce span, whose `traceparent` the
 * user-event record carries → the applier's transaction span, parented by that header → the
 * user-disabled record on user-lifecycle, whose `traceparent` names the applier's span.
 * In process, with an in-memory span exporter.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runApplier } from '@dirstream/applier';
import { topicNames } from '@dirstream/events';
import { createSilentLogger } from '@dirstream/logging';
import { runPoller } from '@dirstream/poller';
import { createKafka, readTopics } from '@dirstream/testing';
import { createTracing, type Tracing } from '@dirstream/tracing';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createPipeline, type Pipeline } from '../support/pipeline.ts';

let pipeline: Pipeline;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();

before(async () => {
  pipeline = await createPipeline({ label: 'trace-context', profile: { groups: null } });
  tracing = await createTracing({ serviceName: 'dirstream-test', exporter });
});
after(async () => {
  await tracing?.shutdown();
  await pipeline?.cleanup();
});

async function sync(): Promise<void> {
  const deps = { config: pipeline.config, logger: createSilentLogger(), signal: new AbortController().signal, tracing };
  const polled = await runPoller(deps, { once: true, profileId: pipeline.profileId, full: true, allowMassDisable: true });
  assert.ok(polled.ok, polled.reason);
  const applied = await runApplier(deps, { untilCaughtUp: true });
  assert.ok(applied.ok, applied.reason);
}

function header(headers: Readonly<Record<string, unknown>> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return value === undefined ? undefined : String(value);
}

test('a disable is one trace: poller produce span → applier transaction span → user-lifecycle header', async () => {
  const { ldap } = pipeline;
  const zoe = await ldap.addUser('zoe');
  await ldap.addUser('ann'); // keeps the directory non-empty once zoe is gone
  await sync();
  exporter.reset();

  await ldap.client.del(zoe);
  await sync();

  const spans = exporter.getFinishedSpans();
  const topics = topicNames(pipeline.prefix);
  const kafka = createKafka(pipeline.infra, `${pipeline.prefix}-trace`);
  const lifecycle = await readTopics(kafka, [topics.userLifecycle]);
  assert.equal(lifecycle.length, 1, 'one user-disabled record');
  const downstream = header(lifecycle[0]?.headers, 'traceparent');
  assert.ok(downstream !== undefined, 'the user-lifecycle record carries a traceparent');
  const [version, traceId, applierSpanId, flags] = downstream.split('-');
  assert.equal(version, '00');
  assert.equal(flags, '01');

  const byId = new Map<string, ReadableSpan>(spans.map((s) => [s.spanContext().spanId, s]));
  const applierSpan = byId.get(applierSpanId as string);
  assert.ok(applierSpan !== undefined, `the downstream traceparent names a recorded span (${downstream})`);
  assert.equal(applierSpan.name, 'dirstream.applier.apply');
  assert.equal(applierSpan.spanContext().traceId, traceId);

  const parent = applierSpan.parentSpanContext;
  assert.ok(parent !== undefined, 'the applier span has a parent (from the record header)');
  assert.equal(parent.traceId, traceId);
  assert.equal(parent.isRemote, true);
  const pollerSpan = byId.get(parent.spanId);
  assert.ok(pollerSpan !== undefined, 'the parent is a recorded poller span');
  assert.equal(pollerSpan.name, 'dirstream.poller.produce');
  assert.equal(pollerSpan.spanContext().traceId, traceId);
  assert.match(String(pollerSpan.attributes['messaging.destination.name']), new RegExp(`${topics.users.replaceAll('.', '\\.')}`));

  // The user-event record on the users topic carries the poller span's context.
  const users = await readTopics(kafka, [topics.users]);
  const traced = users.filter((r) => header(r.headers, 'traceparent') === `00-${traceId}-${parent.spanId}-01`);
  assert.ok(traced.length >= 1, 'the user-event record carries the poller span as traceparent');
});
