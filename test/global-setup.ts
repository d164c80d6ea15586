// Global setup for Node's test runner: `node --test --test-global-setup=test/global-setup.ts ...`;
// `npm test` (test/run.ts) calls it directly, once for both of its lanes. Starts one fresh Kafka
// broker (temp dir, free ports) for the whole run and publishes its address in
// WEIR_TEST_KAFKA_BROKERS. globalSetup runs in the test runner's own process before it spawns the
// test files, and each test file process inherits the runner's environment (checked on Node 24.21,
// with process isolation and with --test-isolation=none), so setting process.env here is enough.
// If WEIR_TEST_KAFKA_BROKERS is already set, that broker is used and nothing is started. If Kafka
// cannot start, globalSetup throws and the run fails: tests are never skipped for it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { LocalKafkaError, startKafka, stopKafka } from '../tools/kafka/local-kafka.ts';
import { TEST_KAFKA_BROKERS_ENV, TEST_KAFKA_DIR_ENV } from './helpers/kafka.ts';
import { freePorts } from './support/ports.ts';

let startedDir: string | undefined;

const say = (line: string) => process.stderr.write(`global-setup: ${line}\n`);

export async function globalSetup(): Promise<void> {
  const given = process.env[TEST_KAFKA_BROKERS_ENV]?.trim();
  if (given) {
    say(`using the Kafka at ${given} (${TEST_KAFKA_BROKERS_ENV})`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'weir-test-kafka-'));
  try {
    // Another process may grab a port between freePorts() and the broker's bind: retry once.
    for (let attempt = 1; ; attempt++) {
      const [port, controllerPort] = await freePorts(2);
      try {
        const info = await startKafka({
          dir,
          port,
          controllerPort,
          detached: false, // so Ctrl-C on the test run reaches the broker too
          timeoutMs: 120_000,
          log: say,
        });
        say(`Kafka ${info.version} at ${info.brokers} (pid ${info.pid}, ${dir})`);
        startedDir = dir;
        process.env[TEST_KAFKA_BROKERS_ENV] = info.brokers;
        process.env[TEST_KAFKA_DIR_ENV] = dir;
        return;
      } catch (e) {
        if (attempt < 2 && e instanceof LocalKafkaError && e.code === 'WEIR_KAFKA_PORT_IN_USE') continue;
        throw e;
      }
    }
  } catch (e) {
    await stopKafka({ dir, timeoutMs: 10_000 }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    if (e instanceof LocalKafkaError) {
      const tail = e.logTail ? `\n${e.logTail}` : '';
      throw new Error(`could not start the test Kafka: ${e.message} [${e.code}]${tail}`, { cause: e });
    }
    throw e;
  }
}

export async function globalTeardown(): Promise<void> {
  if (startedDir === undefined) return;
  const dir = startedDir;
  startedDir = undefined;
  delete process.env[TEST_KAFKA_BROKERS_ENV];
  delete process.env[TEST_KAFKA_DIR_ENV];
  try {
    await stopKafka({ dir, timeoutMs: 20_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
