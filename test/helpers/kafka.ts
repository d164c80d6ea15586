// Helpers for tests that need a real Kafka broker. The broker is started once per test run by
// test/global-setup.ts (`node --test --test-global-setup=test/global-setup.ts ...`), which puts its
// bootstrap address in WEIR_TEST_KAFKA_BROKERS; the test runner passes that environment on to every
// test file process. Set WEIR_TEST_KAFKA_BROKERS yourself to use a broker that is already running.
import { randomUUID } from 'node:crypto';
import process from 'node:process';
import { type IHeaders, Kafka, logLevel } from 'kafkajs';
import { ignoreKafkajsNegativeTimeoutWarnings } from '../../tools/kafka/local-kafka.ts';

ignoreKafkajsNegativeTimeoutWarnings();

export const TEST_KAFKA_BROKERS_ENV = 'WEIR_TEST_KAFKA_BROKERS';
/** The state dir of the broker the global setup started (unset when the user gave a broker). */
export const TEST_KAFKA_DIR_ENV = 'WEIR_TEST_KAFKA_DIR';

export function testKafkaBrokers(): string[] {
  const raw = process.env[TEST_KAFKA_BROKERS_ENV]?.trim();
  if (!raw) {
    throw new Error(
      `${TEST_KAFKA_BROKERS_ENV} is not set: run the tests with \`node --test --test-global-setup=test/global-setup.ts ...\` ` +
        `(it starts a local Kafka), or set ${TEST_KAFKA_BROKERS_ENV}=host:port to use a running broker`,
    );
  }
  return raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

/**
 * A kafkajs client for the test broker. kafkajs's own logging is off: it logs retried, harmless
 * errors (e.g. "coordinator is loading" on a fresh broker) at ERROR level; real failures still
 * reject the calls.
 */
export function testKafka(clientId = 'weir-test'): Kafka {
  return new Kafka({ clientId, brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
}

export async function createTopic(name: string, partitions = 1): Promise<void> {
  const admin = testKafka('weir-test-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Reads `topics` from the beginning with a fresh consumer group until `expected` messages have
 * arrived or `timeoutMs` has passed, whichever comes first, then disconnects. Returns what it got
 * (at most `expected`; fewer on timeout — assert on the length).
 */
export async function consumeAll(opts: {
  topics: string[];
  expected: number;
  timeoutMs?: number;
}): Promise<ConsumedMessage[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const messages: ConsumedMessage[] = [];
  const consumer = testKafka('weir-test-consumer').consumer({
    groupId: `weir-test-${randomUUID()}`,
    maxWaitTimeInMs: 200, // short fetch waits keep disconnect quick
  });
  let stopped = false;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = () => {
      stopped = true;
      resolve();
    };
  });
  const timer = setTimeout(finish, timeoutMs);
  if (opts.expected <= 0) finish();
  const running = (async () => {
    // The gateway creates its topics when it first reaches Kafka, which may be after the test
    // starts reading (a spooled QoS 1 message is acknowledged before it is in Kafka).
    for (const topic of opts.topics) await createTopic(topic);
    await consumer.connect();
    await consumer.subscribe({ topics: opts.topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (stopped) return;
        messages.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: message.headers ?? {},
          timestamp: message.timestamp,
        });
        if (messages.length >= opts.expected) finish();
      },
    });
  })();
  running.catch(() => {}); // a failure after the timeout must not become an unhandled rejection
  try {
    await Promise.race([running, finished]); // setup errors surface here
    await finished;
  } finally {
    clearTimeout(timer);
    stopped = true;
    await within(consumer.disconnect(), 15_000, 'consumer.disconnect()');
  }
  return messages.slice(0, Math.max(0, opts.expected));
}
