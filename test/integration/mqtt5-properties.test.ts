// MQTT 5 properties through the whole gateway into a real Kafka, with independent v5 clients
// (mqtt.js protocolVersion 5, mosquitto_pub -V mqttv5): user properties (a name sent twice too)
// and the content type arrive as Kafka headers, a 3.1.1 message's headers are unchanged, and a
// message whose expiry passes while Kafka is unreachable is counted as expired and never sent,
// across a restart of weir, while messages without an expiry or with a long one are delivered.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { loadSchema } from '../../gateway/codec/avro.ts';
import type { LoadedConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { type ConsumedMessage, consumeAll, testKafkaBrokers } from '../helpers/kafka.ts';
import { readingFor, topicFor } from '../support/devices.ts';
import { waitFor } from '../support/faults.ts';
import { repoRoot, sampleConfig, startTestGateway } from '../support/gateway.ts';
import { freePort } from '../support/ports.ts';
import { runWeir } from '../support/weir-cli.ts';

const run = promisify(execFile);
const vehicleType = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;
const seqOf = (m: ConsumedMessage) => (vehicleType.fromBuffer(m.value!) as { seq: number }).seq;
const payload = (seq: number) => JSON.stringify(readingFor('vehicle', seq, Date.now()));

/** A message's headers as text, each name with its values in the order Kafka has them. */
function headersOf(m: ConsumedMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, v] of Object.entries(m.headers)) {
    out[name] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return out;
}

/** One QoS 1 message from mosquitto_pub -V mqttv5; resolves once it was acknowledged. */
async function mosquittoPub(url: string, clientId: string, topic: string, message: string, v5: string[]) {
  const { port } = new URL(url);
  await run('mosquitto_pub', [
    ...['-h', '127.0.0.1', '-p', port, '-V', 'mqttv5', '-q', '1', '-i', clientId],
    ...['-t', topic, '-m', message, ...v5],
  ]);
}

test('user properties and content type become Kafka headers; a 3.1.1 message keeps its headers', async (t) => {
  const { topics, url } = await startTestGateway(t);
  const v5 = await mqtt.connectAsync(url, { clientId: 'bus-5', protocolVersion: 5, reconnectPeriod: 0 });
  t.after(() => v5.end(true));
  const properties = {
    userProperties: { unit: 'km/h', tag: ['north', 'night'], 'mqtt-topic': 'forged/topic' },
    contentType: 'application/json',
  };
  for (const seq of [1, 2]) {
    await v5.publishAsync(topicFor('vehicle', 'bus-5'), payload(seq), { qos: 1, properties });
  }
  await mosquittoPub(url, 'bus-6', topicFor('vehicle', 'bus-6'), payload(3), [
    ...['-D', 'publish', 'user-property', 'tag', 'a', '-D', 'publish', 'user-property', 'tag', 'b'],
    ...['-D', 'publish', 'content-type', 'text/plain; charset=utf-8'],
  ]);
  const v311 = await mqtt.connectAsync(url, { clientId: 'bus-7', protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => v311.end(true));
  await v311.publishAsync(topicFor('vehicle', 'bus-7'), payload(4), { qos: 1 });

  const got = await consumeAll({ topics: [topics.vehicle], expected: 4, timeoutMs: 30_000 });
  const bySeq = new Map(got.map((m) => [seqOf(m), headersOf(m)]));
  assert.deepEqual([...bySeq.keys()].sort(), [1, 2, 3, 4]);
  const weirs = (device: string) => {
    const h = bySeq.get(4)!;
    return {
      'weir-gateway-id': h['weir-gateway-id'],
      'avro-schema-fingerprint': h['avro-schema-fingerprint'],
      'mqtt-topic': topicFor('vehicle', device),
    };
  };
  for (const seq of [1, 2]) {
    assert.deepEqual(bySeq.get(seq), {
      ...weirs('bus-5'),
      'content-type': 'application/json',
      unit: 'km/h',
      tag: ['north', 'night'],
      'user-property-mqtt-topic': 'forged/topic',
    });
  }
  assert.deepEqual(bySeq.get(3), {
    ...weirs('bus-6'),
    'content-type': 'text/plain; charset=utf-8',
    tag: ['a', 'b'],
  });
  assert.deepEqual(Object.keys(bySeq.get(4)!).sort(), [
    'avro-schema-fingerprint',
    'mqtt-topic',
    'weir-gateway-id',
  ]);
  assert.equal(bySeq.get(4)!['mqtt-topic'], topicFor('vehicle', 'bus-7'));

  // weir tail shows every value of a repeated header.
  const brokers = testKafkaBrokers().join(',');
  const tail = await runWeir(
    [
      'tail',
      topics.vehicle,
      '--from',
      'beginning',
      '--count',
      '1',
      '--json',
      '--key',
      'bus-6',
      '--brokers',
      brokers,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(tail.code, 0, tail.stderr);
  const printed = JSON.parse(tail.stdout.trim()) as { headers: Record<string, string | string[]> };
  assert.deepEqual(printed.headers.tag, ['a', 'b']);
  assert.equal(printed.headers['content-type'], 'text/plain; charset=utf-8');
});

test('a message whose expiry passes while Kafka is unreachable is counted as expired and never sent; the expiry survives a restart', async (t) => {
  const { loaded, topics } = sampleConfig({ shutdown: { drainTimeoutMs: 200 } });
  const withBrokers = (brokers: string[]): LoadedConfig => ({
    ...loaded,
    config: { ...loaded.config, kafka: { ...loaded.config.kafka, brokers } },
  });
  const options = {
    log: pino({ level: process.env.WEIR_TEST_LOG ?? 'warn' }),
    backoff: { initialMs: 50, maxMs: 200 },
  };

  // 1. Kafka unreachable: four messages are spooled and acknowledged — one expires in 1 s, one
  //    has none, one expires in an hour, one in 6 s.
  const first = await startGateway(withBrokers([`127.0.0.1:${await freePort()}`]), options);
  t.after(() => first.stop());
  const url = `mqtt://127.0.0.1:${first.mqtt.port}`;
  await mosquittoPub(url, 'bus-8', topicFor('vehicle', 'bus-8'), payload(1), [
    ...['-D', 'publish', 'message-expiry-interval', '1'],
  ]);
  const client = await mqtt.connectAsync(url, { clientId: 'bus-9', protocolVersion: 5, reconnectPeriod: 0 });
  const topic = topicFor('vehicle', 'bus-9');
  await client.publishAsync(topic, payload(2), { qos: 1 });
  await client.publishAsync(topic, payload(3), { qos: 1, properties: { messageExpiryInterval: 3600 } });
  await client.publishAsync(topic, payload(4), { qos: 1, properties: { messageExpiryInterval: 6 } });
  const fourthExpires = Date.now() + 6_000;
  await client.endAsync();
  // The short expiry passes while its record waits for Kafka (in a batch, between retries).
  await waitFor(
    () => first.metrics.dropped.counts.expired === 1,
    5_000,
    'the 1 s message to be counted as expired',
  );
  await first.stop();
  assert.equal(
    first.metrics.dropped.counts.expired,
    1,
    'the 6 s message had not expired yet when weir stopped',
  );

  // 2. After the 6 s expiry, weir starts again on the same spool with Kafka reachable: the spool
  //    kept the expiry, so only the messages without one or with a long one reach Kafka.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, fourthExpires - Date.now() + 200)));
  const again = await startGateway(loaded, options);
  t.after(() => again.stop());
  await waitFor(() => again.spool!.drained, 60_000, 'the spool to drain');
  assert.equal(again.metrics.dropped.counts.expired, 1, 'the 6 s message, expired while weir was stopped');
  const got = await consumeAll({ topics: [topics.vehicle], expected: 4, timeoutMs: 5_000 });
  assert.deepEqual(got.map(seqOf).sort(), [2, 3], 'no expired message is in Kafka');
});
