// librdkafka's configuration for the rdkafka sink. node-rdkafka replaces librdkafka's default
// topic config with its own topic-config argument, so a topic-level property (partitioner, acks,
// message.timeout.ms) put among the global ones is silently lost: they must be in `topic`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { rdkafkaConfig } from '../../gateway/sinks/kafka/rdkafka.ts';

const opts = {
  brokers: ['10.0.0.1:9092', '10.0.0.2:9092'],
  clientId: 'gw-7',
  compression: 'zstd' as const,
  requestTimeoutMs: 12_000,
  connectionTimeoutMs: 4_000,
  createTopics: [],
  partitions: 3,
  replicationFactor: 1,
  minInsyncReplicas: -1,
  log: pino({ level: 'silent' }),
};

test('topic-level properties are in the topic config, producer ones in the global config', () => {
  const c = rdkafkaConfig(opts);
  assert.equal(c.topic.partitioner, 'murmur2_random');
  assert.equal(c.topic.acks, 'all');
  assert.equal(c.topic['message.timeout.ms'], 12_000);
  assert.equal(c.topic['request.timeout.ms'], 12_000);
  assert.equal(c.topic['compression.codec'], 'zstd');
  for (const key of Object.keys(c.topic)) assert.ok(!(key in c.producer), `${key} also global`);
  assert.equal(c.producer['enable.idempotence'], true);
  assert.equal(c.producer.dr_cb, true);
  assert.equal(c.producer['bootstrap.servers'], '10.0.0.1:9092,10.0.0.2:9092');
  assert.equal(c.producer['client.id'], 'gw-7');
});

test('the admin client gets the connection properties only', () => {
  const c = rdkafkaConfig(opts);
  assert.deepEqual(
    Object.keys(c.client).filter((k) => !(k in c.producer)),
    [],
  );
  assert.equal(c.client['enable.idempotence'], undefined);
  assert.equal(c.client.dr_cb, undefined);
});

test('timeouts are kept inside the ranges librdkafka accepts', () => {
  const c = rdkafkaConfig({ ...opts, requestTimeoutMs: 600_000, connectionTimeoutMs: 200 });
  assert.equal(c.client['socket.connection.setup.timeout.ms'], 1_000);
  assert.equal(c.client['socket.timeout.ms'], 300_000);
  assert.equal(c.topic['message.timeout.ms'], 300_000);
});
