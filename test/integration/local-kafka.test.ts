// The local Kafka that test/global-setup.ts starts, used the way the gateway will use it (kafkajs
// 2.2.4: idempotent producer, acks -1, gzip), and the `weir kafka` CLI's exit codes.
// Run: node --test --test-global-setup=test/global-setup.ts test/integration/local-kafka.test.ts
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CompressionTypes } from 'kafkajs';
import {
  consumeAll,
  createTopic,
  TEST_KAFKA_DIR_ENV,
  testKafka,
  testKafkaBrokers,
} from '../helpers/kafka.ts';

const weirBin = fileURLToPath(new URL('../../bin/weir.ts', import.meta.url));

function weir(...args: string[]) {
  return spawnSync(process.execPath, [weirBin, ...args], { encoding: 'utf8', timeout: 60_000 });
}

async function produce(
  topic: string,
  messages: Array<{ key: string; value: string; headers?: Record<string, string> }>,
) {
  const producer = testKafka('weir-test-producer').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    return await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
  } finally {
    await producer.disconnect();
  }
}

test('the global setup published a broker address', () => {
  const brokers = testKafkaBrokers();
  assert.ok(brokers.length > 0);
  for (const b of brokers) assert.match(b, /^[^:\s]+:\d+$/);
});

test('idempotent gzip producer with acks -1, consumed back by a consumer group', {
  timeout: 60_000,
}, async () => {
  const topic = `weir-test-${randomUUID()}`;
  await createTopic(topic, 2);
  const sent = Array.from({ length: 5 }, (_, i) => ({
    key: `device-${i}`,
    value: JSON.stringify({ i, t: 20.5 + i }),
    headers: { 'content-type': 'application/json', seq: String(i) },
  }));
  const result = await produce(topic, sent);
  assert.ok(result.every((r) => r.errorCode === 0));

  const got = await consumeAll({ topics: [topic], expected: sent.length, timeoutMs: 30_000 });
  assert.equal(got.length, sent.length);
  got.sort((a, b) => String(a.key).localeCompare(String(b.key)));
  for (const [i, m] of got.entries()) {
    const want = sent[i]!;
    assert.equal(m.topic, topic);
    assert.ok(m.partition === 0 || m.partition === 1, `partition ${m.partition}`);
    assert.match(m.offset, /^\d+$/);
    assert.match(m.timestamp, /^\d+$/);
    assert.deepEqual(m.key, Buffer.from(want.key));
    assert.deepEqual(m.value, Buffer.from(want.value));
    assert.deepEqual(m.headers['content-type'], Buffer.from('application/json'));
    assert.deepEqual(m.headers['seq'], Buffer.from(String(i)));
  }
});

test('topics are auto-created on first produce', { timeout: 60_000 }, async () => {
  const topic = `weir-test-auto-${randomUUID()}`;
  await produce(topic, [{ key: 'k', value: 'v' }]);
  const got = await consumeAll({ topics: [topic], expected: 1, timeoutMs: 30_000 });
  assert.equal(got.length, 1);
  assert.equal(got[0]!.value?.toString(), 'v');
});

test('consumeAll returns what it has when the timeout passes', { timeout: 30_000 }, async () => {
  const topic = `weir-test-${randomUUID()}`;
  await createTopic(topic);
  await produce(topic, [{ key: 'only', value: 'one' }]);
  const started = Date.now();
  const got = await consumeAll({ topics: [topic], expected: 2, timeoutMs: 3_000 });
  assert.equal(got.length, 1);
  assert.ok(Date.now() - started < 20_000);
});

test('`weir kafka status` exits 3 for a dir where no Kafka runs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weir-kafka-status-'));
  try {
    const r = weir('kafka', 'status', '--dir', dir);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /not running/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('`weir kafka status` exits 0 and names the broker the global setup started', {
  skip: process.env[TEST_KAFKA_DIR_ENV] ? false : 'the broker was given in WEIR_TEST_KAFKA_BROKERS',
}, () => {
  const r = weir('kafka', 'status', '--dir', process.env[TEST_KAFKA_DIR_ENV]!);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(`running at ${testKafkaBrokers()[0]}`), r.stdout);
});

test('`weir kafka` usage errors exit 2, --help exits 0', () => {
  assert.equal(weir('kafka').status, 2);
  assert.equal(weir('kafka', 'frobnicate').status, 2);
  assert.equal(weir('kafka', 'status', '--port', 'nope').status, 2);
  assert.equal(weir('kafka', 'status', '--no-such-flag').status, 2);
  assert.equal(weir('kafka', 'start', '--brokers', '0').status, 2);
  assert.equal(weir('kafka', 'start', '--brokers', 'three').status, 2);
  assert.equal(weir('kafka', 'start', '--brokers', '3', '--security').status, 2);
  const help = weir('kafka', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /weir kafka <start\|stop\|status\|fetch\|install-rdkafka>/);
});
