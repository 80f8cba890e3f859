/**
 * Sign-in in a trace (docs/operations.md, Tracing): `POST /v1/authenticate` is a server span,
 * the child of the calling application's `traceparent` when it sends one, with the result on it
 * and never the password; the auth event of that attempt carries the span as `traceparent` in its
 * Kafka record headers. Tracing off: no span, no header. In process, with an in-memory exporter.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createCodec, topicNames } from '@dirstream/events';
import { createKafka, readTopics } from '@dirstream/testing';
import { createTracing, type Tracing } from '@dirstream/tracing';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createPipeline, type Pipeline } from '../../../test/support/pipeline.ts';
import { LOG_LINES, serveConfig, startServe, type TestServe } from './auth-support.ts';

const PASSWORD = `tracy-${randomBytes(9).toString('base64url')}`;
const exporter = new InMemorySpanExporter();

let pipeline: Pipeline;
let tracing: Tracing;
let traced: TestServe;

before(async () => {
  pipeline = await createPipeline({ label: 'auth-trace' });
  await pipeline.ldap.addUser('tracy', { userPassword: PASSWORD });
  const poll = await pipeline.runPoller(['--full']);
  assert.equal(poll.code, 0, poll.stderr);
  await pipeline.applyUntilCaughtUp();
  tracing = await createTracing({ serviceName: 'dirstream-serve-test', exporter });
  traced = await startServe(serveConfig(pipeline.config), { tracing });
});

after(async () => {
  await traced?.close();
  await tracing?.shutdown();
  await pipeline?.cleanup();
});

const signInSpans = () => exporter.getFinishedSpans().filter((s) => s.name === 'dirstream.serve.authenticate');

/** The auth-event records of `login`, with their traceparent header (undefined: none). */
async function authRecords(serve: TestServe, login: string): Promise<{ result: string; traceparent: string | undefined }[]> {
  await serve.serve.auth.events.flush();
  const codec = createCodec();
  const records = await readTopics(createKafka(pipeline.infra), [topicNames(pipeline.prefix).authEvents]);
  return records
    .map((r) => ({ event: codec.decode('auth-event', r.value as Buffer), header: r.headers?.traceparent }))
    .filter((r) => r.event.login === login)
    .map((r) => ({ result: r.event.result, traceparent: r.header === undefined ? undefined : String(r.header) }));
}

describe('sign-in tracing', () => {
  it('is a server span under the caller traceparent, and the auth event carries it', async () => {
    const callerTrace = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const mark = signInSpans().length;
    const { status } = await traced.authenticate(
      { login: 'tracy', password: PASSWORD },
      { headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` } },
    );
    assert.equal(status, 200);
    const [span, ...more] = signInSpans().slice(mark);
    assert.ok(span !== undefined && more.length === 0, `one sign-in span, got ${signInSpans().length - mark}`);
    assert.equal(span.spanContext().traceId, callerTrace);
    assert.equal(span.parentSpanContext?.spanId, callerSpan);
    assert.equal(span.parentSpanContext?.isRemote, true);
    assert.equal(span.attributes['dirstream.auth.result'], 'success');
    assert.equal(span.attributes['dirstream.profile.id'], pipeline.profileId);
    assert.equal(span.attributes['http.response.status_code'], 200);

    const records = await authRecords(traced, 'tracy');
    assert.deepEqual(records, [{ result: 'success', traceparent: `00-${callerTrace}-${span.spanContext().spanId}-01` }]);
  });

  it('records a refusal as an answer (401 on the span, not an error) with a trace of its own when the caller sends none', async () => {
    const mark = signInSpans().length;
    assert.equal((await traced.authenticate({ login: 'tracy', password: 'not-the-password' })).status, 401);
    const [span] = signInSpans().slice(mark) as [ReadableSpan];
    assert.equal(span.parentSpanContext, undefined);
    assert.equal(span.attributes['dirstream.auth.result'], 'invalid-credentials');
    assert.equal(span.attributes['http.response.status_code'], 401);
    assert.notEqual(span.status.code, 2, 'a refusal is not a span error');
    const records = await authRecords(traced, 'tracy');
    assert.equal(records.length, 2);
    assert.deepEqual(records[1], {
      result: 'invalid-credentials',
      traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`,
    });
  });

  it('with tracing off: no span and no traceparent on the auth event', async () => {
    const mark = signInSpans().length;
    const untraced = await startServe(serveConfig(pipeline.config));
    try {
      assert.equal((await untraced.authenticate({ login: 'TRACY', password: PASSWORD })).status, 200);
      assert.equal(signInSpans().length, mark);
      const records = await authRecords(untraced, 'TRACY');
      assert.deepEqual(records, [{ result: 'success', traceparent: undefined }]);
    } finally {
      await untraced.close();
    }
  });

  it('never put the password in a span, an event header or a log line', () => {
    assert.ok(signInSpans().length >= 2);
    for (const span of exporter.getFinishedSpans()) {
      assert.equal(JSON.stringify({ name: span.name, attributes: span.attributes, events: span.events }).includes(PASSWORD), false);
    }
    assert.equal(
      LOG_LINES.find((line) => line.includes(PASSWORD)),
      undefined,
    );
  });
});
