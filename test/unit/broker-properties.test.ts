// server.properties of the local Kafka: one node alone, or one voter of a 3-node cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverProperties } from '../../tools/kafka/broker-properties.ts';

const props = (text: string) =>
  new Map(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );

test('a single node replicates everything once', () => {
  const p = props(serverProperties({ dataDir: '/d', port: 19092, controllerPort: 19093, version: '4.3.1' }));
  assert.equal(p.get('node.id'), '1');
  assert.equal(p.get('controller.quorum.voters'), '1@127.0.0.1:19093');
  assert.equal(p.get('default.replication.factor'), '1');
  assert.equal(p.get('min.insync.replicas'), '1');
  assert.equal(p.get('offsets.topic.replication.factor'), '1');
});

test('a voter of a 3-node cluster: every node in the quorum, RF 3 and min.insync.replicas 2', () => {
  const voters = [1, 2, 3].map((nodeId) => ({
    nodeId,
    port: 19090 + 2 * nodeId,
    controllerPort: 19091 + 2 * nodeId,
  }));
  const p = props(
    serverProperties({
      dataDir: '/d2',
      port: 19094,
      controllerPort: 19095,
      version: '4.3.1',
      nodeId: 2,
      voters,
    }),
  );
  assert.equal(p.get('node.id'), '2');
  assert.equal(p.get('controller.quorum.voters'), '1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097');
  assert.equal(p.get('listeners'), 'PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095');
  assert.equal(p.get('advertised.listeners'), 'PLAINTEXT://127.0.0.1:19094');
  for (const key of [
    'default.replication.factor',
    'offsets.topic.replication.factor',
    'transaction.state.log.replication.factor',
    'share.coordinator.state.topic.replication.factor',
  ]) {
    assert.equal(p.get(key), '3', key);
  }
  for (const key of [
    'min.insync.replicas',
    'transaction.state.log.min.isr',
    'share.coordinator.state.topic.min.isr',
  ]) {
    assert.equal(p.get(key), '2', key);
  }
});
