/**
 * Example downstream consumer: prints the user-disabled / user-enabled events of a dirstream
 * deployment, one line each.
 *
 *   npm run example:consumer -- --brokers 127.0.0.1:39092 --prefix dirstream --from-beginning
 *
 * Flags: --brokers host:port[,host:port] (default 127.0.0.1:9092), --prefix (default dirstream),
 * --group (consumer group; default a fresh one, so nothing is committed for later runs),
 * --from-beginning (a new group starts at the oldest record instead of the newest),
 * --max-events N (exit after N printed events). Stop it with Ctrl-C.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createCodec, parseEntityKey, topicNames, type UserLifecycleEvent } from '@dirstream/events';
import { errorCode } from '@dirstream/errors';
import { Kafka, logLevel } from 'kafkajs';

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    prefix: { type: 'string', default: 'dirstream' },
    group: { type: 'string' },
    'from-beginning': { type: 'boolean', default: false },
    'max-events': { type: 'string' },
  },
});

const topic = topicNames(values.prefix).userLifecycle;
const maxEvents = values['max-events'] === undefined ? Number.POSITIVE_INFINITY : Number(values['max-events']);
const codec = createCodec();
const kafka = new Kafka({
  clientId: 'dirstream-example-consumer',
  brokers: values.brokers.split(','),
  logLevel: logLevel.ERROR,
});
const consumer = kafka.consumer({ groupId: values.group ?? `dirstream-example-${randomUUID()}` });

// Delivery is at least once: a record can arrive twice (after a rebalance or a relay restart).
// The event ID is deterministic, so remembering the IDs seen is enough to print each once.
// (A real consumer keeps them with its own state, e.g. a unique column.)
const seen = new Set<string>();
let printed = 0;

async function stop(code: number): Promise<never> {
  await consumer.disconnect().catch(() => undefined);
  process.exit(code);
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: values['from-beginning'] });
console.error(`reading ${topic} from ${values.brokers}${values['from-beginning'] ? ' (from the beginning)' : ''}`);

await consumer.run({
  eachMessage: async ({ partition, message }) => {
    if (message.value === null) return;
    let event: UserLifecycleEvent;
    try {
      event = codec.decode('user-lifecycle', message.value);
    } catch (error) {
      // A real consumer would dead-letter the record; it must not stop the partition.
      console.error(`skipped partition ${partition} offset ${message.offset}: ${errorCode(error) ?? String(error)}`);
      return;
    }
    if (seen.has(event.eventId)) return;
    seen.add(event.eventId);
    // The set of types may grow in later releases: ignore what this consumer does not know.
    if (event.type !== 'user-disabled' && event.type !== 'user-enabled') return;
    const key = message.key === null ? null : parseEntityKey(message.key);
    console.log(
      [
        new Date(event.occurredAt).toISOString(),
        event.type.padEnd(13),
        `login=${event.loginName}`,
        `reason=${event.reason ?? '-'}`,
        `profile=${key?.profileId ?? event.profileId}`,
        `externalId=${event.externalId}`,
        `eventId=${event.eventId}`,
      ].join(' '),
    );
    printed++;
    if (printed >= maxEvents) setImmediate(() => void stop(0));
  },
});
