// How weir replicates the topics it creates, from the cluster's size and the config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../gateway/config/load.ts';
import { topicSettings } from '../../gateway/sinks/kafka/topics.ts';
import { repoRoot } from '../support/gateway.ts';

test('auto: replication 3 and min.insync.replicas 2 on a cluster of 3 or more brokers', () => {
  for (const brokers of [3, 5, 12]) {
    assert.deepEqual(topicSettings(brokers, 'auto', 'auto'), {
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
  }
});

test('auto: one replica on a single broker, two with min.insync.replicas 1 on two brokers', () => {
  assert.deepEqual(topicSettings(1, 'auto', 'auto'), {
    replicationFactor: 1,
    configs: { 'min.insync.replicas': '1' },
  });
  assert.deepEqual(topicSettings(2, 'auto', 'auto'), {
    replicationFactor: 2,
    configs: { 'min.insync.replicas': '1' },
  });
});

test("-1 leaves the choice to the broker's settings", () => {
  assert.deepEqual(topicSettings(3, -1, 'auto'), { replicationFactor: -1, configs: {} });
  assert.deepEqual(topicSettings(3, -1, -1), { replicationFactor: -1, configs: {} });
  assert.deepEqual(topicSettings(3, 3, -1), { replicationFactor: 3, configs: {} });
});

test('explicit values are taken as given', () => {
  assert.deepEqual(topicSettings(5, 5, 3), {
    replicationFactor: 5,
    configs: { 'min.insync.replicas': '3' },
  });
  assert.deepEqual(topicSettings(3, 2, 'auto'), {
    replicationFactor: 2,
    configs: { 'min.insync.replicas': '1' },
  });
});

test('config: minInsyncReplicas above replicationFactor is refused at start-up', () => {
  const base = {
    auth: 'none',
    kafka: { brokers: ['127.0.0.1:9092'] },
    routes: [{ name: 'r', mqttTopic: 'a/{deviceId}', kafkaTopic: 't', schema: 'schemas/smart-city.avsc' }],
  };
  const bad = {
    ...base,
    kafka: { ...base.kafka, createTopics: { replicationFactor: 2, minInsyncReplicas: 3 } },
  };
  assert.throws(
    () => parseConfig(bad, repoRoot),
    /minInsyncReplicas.*must not exceed replicationFactor \(2\)/s,
  );
  const zero = { ...base, kafka: { ...base.kafka, createTopics: { replicationFactor: 0 } } };
  assert.throws(() => parseConfig(zero, repoRoot), /replicationFactor/);
  const ok = parseConfig(base, repoRoot);
  assert.equal(ok.config.kafka.createTopics.replicationFactor, 'auto');
  assert.equal(ok.config.kafka.createTopics.minInsyncReplicas, 'auto');
});
