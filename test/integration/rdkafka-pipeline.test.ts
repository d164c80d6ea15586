// weir end to end with `kafka.client: rdkafka`: real mqtt.js devices → weir (spool, batcher,
// forwarder) → the node-rdkafka sink → the real Kafka broker, read back and decoded. node-rdkafka
// is optional: where it cannot load, this fails under CI and is skipped, with the reason, elsewhere.
import assert from 'node:assert/strict';
import path from 'node:path';
import process from 'node:process';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { startGateway } from '../../gateway/main.ts';
import { loadRdkafka } from '../../gateway/sinks/kafka/rdkafka-lib.ts';
import { consumeAll } from '../helpers/kafka.ts';
import { connectDevice, publishSequence, topicFor } from '../support/devices.ts';
import { repoRoot, sampleConfig } from '../support/gateway.ts';

const unavailable = await loadRdkafka().then(
  () => null,
  (err: Error) => err,
);
const skip =
  unavailable !== null && !process.env.CI ? `node-rdkafka unavailable here: ${unavailable.message}` : false;
const vehicle = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;

test('kafka.client rdkafka: 20 devices × 100 QoS 1 messages, all in Kafka in per-device order; a bad one dead-lettered', {
  skip,
}, async (t) => {
  if (unavailable !== null) throw unavailable;
  const { loaded, topics } = sampleConfig();
  const config = { ...loaded.config, kafka: { ...loaded.config.kafka, client: 'rdkafka' as const } };
  const gateway = await startGateway(
    { ...loaded, config },
    { log: pino({ level: process.env.WEIR_TEST_LOG ?? 'warn' }), backoff: { initialMs: 50, maxMs: 1000 } },
  );
  t.after(() => gateway.stop());
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;

  const DEVICES = 20;
  const PER_DEVICE = 100;
  const clients = await Promise.all(
    Array.from({ length: DEVICES }, (_, i) =>
      connectDevice(url, `vehicle-rdk-${String(i).padStart(2, '0')}`),
    ),
  );
  t.after(() => Promise.all(clients.map((c) => c.endAsync())));
  const sent = (
    await Promise.all(
      clients.map((c, i) =>
        publishSequence(c, 'vehicle', `vehicle-rdk-${String(i).padStart(2, '0')}`, PER_DEVICE),
      ),
    )
  ).flat();
  await clients[0]!.publishAsync(topicFor('vehicle', 'vehicle-rdk-00'), '{"seq": ', { qos: 1 });

  const received = await consumeAll({ topics: [topics.vehicle], expected: sent.length, timeoutMs: 30_000 });
  assert.equal(received.length, sent.length, 'every acknowledged message reached Kafka');
  const seqs = new Map<string, number[]>();
  for (const m of received.sort((a, b) => Number(a.offset) - Number(b.offset))) {
    const rec = vehicle.fromBuffer(m.value!) as { deviceId: string; seq: number };
    assert.equal(m.key?.toString(), rec.deviceId, 'Kafka key is the device id');
    seqs.set(rec.deviceId, [...(seqs.get(rec.deviceId) ?? []), rec.seq]);
  }
  assert.equal(seqs.size, DEVICES);
  for (const [deviceId, got] of seqs) {
    const want = sent.filter((s) => s.deviceId === deviceId).map((s) => s.payload.seq);
    assert.deepEqual(got, want, `${deviceId}: order in Kafka is the order sent`);
  }
  const dead = await consumeAll({ topics: [topics.deadLetter], expected: 1, timeoutMs: 20_000 });
  assert.equal(dead.length, 1, 'the malformed message is in the dead-letter topic');
});
