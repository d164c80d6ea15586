// The pipeline end to end against the real Kafka broker: real mqtt.js devices → weir's embedded
// broker → Avro → Kafka, read back by a separate consumer and decoded with the .avsc files.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { DEADLETTER_SCHEMA_PATH } from '../../gateway/deadletter/deadletter.ts';
import { startGateway } from '../../gateway/main.ts';
import { metricValue } from '../../gateway/metrics.ts';
import { consumeAll, testKafka } from '../helpers/kafka.ts';
import {
  connectDevice,
  type Fleet,
  publishSequence,
  readingFor,
  type SentMessage,
  topicFor,
} from '../support/devices.ts';
import { repoRoot, sampleConfig, startTestGateway } from '../support/gateway.ts';

const schemas = {
  city: loadSchema(path.join(repoRoot, 'schemas/smart-city.avsc')).type,
  factory: loadSchema(path.join(repoRoot, 'schemas/factory-line.avsc')).type,
  vehicle: loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type,
};
const deadLetterType = loadSchema(DEADLETTER_SCHEMA_PATH).type;
interface DeadLetter {
  reason: string;
  detail: string;
  mqttTopic: string;
  clientId: string;
  qos: number;
  payload: Buffer;
}
const FLEETS: Fleet[] = ['city', 'factory', 'vehicle'];

describe('pipeline against a real Kafka', () => {
  test('100 devices × 200 QoS 1 messages: every one in Kafka, values intact, per-device order kept', async (t) => {
    const { gateway, topics, url } = await startTestGateway(t);
    const DEVICES = 100;
    const PER_DEVICE = 200;

    const devices = await Promise.all(
      Array.from({ length: DEVICES }, async (_, i) => {
        const fleet = FLEETS[i % 3]!;
        const deviceId = `${fleet}-dev-${String(i).padStart(3, '0')}`;
        const client = await connectDevice(url, deviceId);
        t.after(() => client.endAsync());
        return { fleet, deviceId, client };
      }),
    );
    const sent = (
      await Promise.all(devices.map((d) => publishSequence(d.client, d.fleet, d.deviceId, PER_DEVICE)))
    ).flat();
    assert.equal(sent.length, DEVICES * PER_DEVICE);

    const topicOf = { city: topics.city, factory: topics.factory, vehicle: topics.vehicle };
    const received = await consumeAll({
      topics: Object.values(topicOf),
      expected: sent.length,
      timeoutMs: 60_000,
    });
    assert.equal(received.length, sent.length, 'every acknowledged message reached Kafka exactly once');

    // Decode everything and index by device, in Kafka offset order.
    const fleetByTopic = new Map(FLEETS.map((f) => [topicOf[f], f]));
    const byDevice = new Map<string, Array<Record<string, unknown>>>();
    for (const m of [...received].sort((a, b) => Number(a.offset) - Number(b.offset))) {
      const fleet = fleetByTopic.get(m.topic)!;
      const rec = { ...schemas[fleet].fromBuffer(m.value!) } as Record<string, unknown>;
      assert.equal(m.key?.toString(), rec.deviceId, 'Kafka key is the device id');
      assert.equal(m.headers['mqtt-topic']?.toString(), topicFor(fleet, rec.deviceId as string));
      assert.equal(m.headers['weir-gateway-id']?.toString(), 'edge-gateway-01');
      const list = byDevice.get(rec.deviceId as string) ?? [];
      list.push(rec);
      byDevice.set(rec.deviceId as string, list);
    }

    const sentByDevice = Map.groupBy(sent, (s: SentMessage) => s.deviceId);
    assert.equal(byDevice.size, DEVICES);
    for (const [deviceId, expected] of sentByDevice) {
      const got = byDevice.get(deviceId) ?? [];
      assert.deepEqual(
        got.map((r) => r.seq),
        expected.map((s) => s.payload.seq),
        `${deviceId}: sequence in Kafka equals the order sent`,
      );
      for (let i = 0; i < expected.length; i++) {
        const {
          receivedAt,
          deviceId: _d,
          site: _s,
          sensorType: _st,
          plant: _p,
          line: _l,
          fleetId: _f,
          ...values
        } = got[i]!;
        const want = expected[i]!.payload;
        for (const [field, value] of Object.entries(want)) {
          assert.deepEqual(values[field], value, `${deviceId} seq ${want.seq} field ${field}`);
        }
        assert.ok(
          typeof receivedAt === 'number' && receivedAt >= (want.ts as number),
          'receivedAt set by the gateway',
        );
      }
    }
    assert.equal(
      await metricValue(gateway.metrics.registry, 'weir_source_messages_total', { qos: '1' }),
      sent.length,
    );
    assert.equal(await metricValue(gateway.metrics.registry, 'weir_deadletter_records_total'), 0);
  });

  test('malformed payloads land in the dead-letter topic with their reasons; valid traffic is unaffected', async (t) => {
    const { gateway, topics, url } = await startTestGateway(t);
    const bad = await connectDevice(url, 'bad-device');
    const good = await connectDevice(url, 'vehicle-good');
    t.after(() => Promise.all([bad.endAsync(), good.endAsync()]));

    const vehicleTopic = topicFor('vehicle', 'bad-device');
    const malformed: Array<{ topic: string; payload: Buffer | string; reason: string }> = [
      { topic: vehicleTopic, payload: '{"ts": 1, "latDeg":', reason: 'invalid_json' },
      { topic: vehicleTopic, payload: Buffer.from([0xff, 0x00, 0xfe]), reason: 'invalid_json' },
      { topic: vehicleTopic, payload: '[1, 2, 3]', reason: 'schema_mismatch' },
      {
        topic: vehicleTopic,
        payload: JSON.stringify({ ...readingFor('vehicle', 1, 1), speedKmh: 'fast' }),
        reason: 'schema_mismatch',
      },
      { topic: vehicleTopic, payload: JSON.stringify({ seq: 2 }), reason: 'schema_mismatch' },
      { topic: 'garden/sprinkler/7', payload: '{"on": true}', reason: 'no_route' },
      { topic: 'city/too/few', payload: '{}', reason: 'no_route' },
    ];
    const ROUNDS = 20;
    const [goodSent] = await Promise.all([
      publishSequence(good, 'vehicle', 'vehicle-good', 500),
      (async () => {
        for (let r = 0; r < ROUNDS; r++) {
          // Every malformed publish is acknowledged: the device is not disconnected for it.
          await Promise.all(malformed.map((m) => bad.publishAsync(m.topic, m.payload as Buffer, { qos: 1 })));
        }
      })(),
    ]);
    assert.equal(bad.connected, true, 'the sender of bad payloads stays connected');

    const dead = await consumeAll({
      topics: [topics.deadLetter],
      expected: malformed.length * ROUNDS,
      timeoutMs: 30_000,
    });
    assert.equal(dead.length, malformed.length * ROUNDS);
    const decoded = dead.map((m) => deadLetterType.fromBuffer(m.value!) as DeadLetter);
    const counts = new Map<string, number>();
    for (const d of decoded) counts.set(d.reason, (counts.get(d.reason) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), {
      invalid_json: 2 * ROUNDS,
      schema_mismatch: 3 * ROUNDS,
      no_route: 2 * ROUNDS,
    });
    // The first round, in order: raw payload, topic, client id and reason preserved.
    decoded.slice(0, malformed.length).forEach((d, i) => {
      const m = malformed[i]!;
      assert.equal(d.reason, m.reason);
      assert.equal(d.mqttTopic, m.topic);
      assert.equal(d.clientId, 'bad-device');
      assert.equal(d.qos, 1);
      assert.deepEqual(d.payload, Buffer.from(m.payload as string));
      assert.ok(d.detail.length > 0);
    });
    assert.match(decoded[3]!.detail, /speedKmh/);

    const valid = await consumeAll({
      topics: [topics.vehicle],
      expected: goodSent.length,
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      valid.map((m) => (schemas.vehicle.fromBuffer(m.value!) as { seq: number }).seq),
      goodSent.map((s) => s.payload.seq),
    );
    for (const reason of ['invalid_json', 'no_route'] as const) {
      assert.equal(
        await metricValue(gateway.metrics.registry, 'weir_deadletter_records_total', { reason }),
        2 * ROUNDS,
      );
    }
    assert.equal(
      await metricValue(gateway.metrics.registry, 'weir_deadletter_records_total', {
        reason: 'schema_mismatch',
      }),
      3 * ROUNDS,
    );
  });

  test('a record Kafka refuses for good becomes a kafka_rejected dead letter with its client id, QoS and route', async (t) => {
    const { loaded, topics } = sampleConfig();
    // The vehicle topic takes no record batch over 100 bytes: Kafka refuses every record for good.
    const admin = testKafka('weir-test-admin').admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: topics.vehicle,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'max.message.bytes', value: '100' }],
        },
        // Made here too, so the reader below never asks for a topic that does not exist yet.
        { topic: topics.deadLetter, numPartitions: 1, replicationFactor: 1 },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const gateway = await startGateway(loaded, {
      log: pino({ level: 'silent' }),
      backoff: { initialMs: 50, maxMs: 1000 },
    });
    t.after(() => gateway.stop());
    // The MQTT client id differs from the vehicle id (the Kafka key): the dead letter names the client.
    const client = await connectDevice(`mqtt://127.0.0.1:${gateway.mqtt.port}`, 'tracker-modem-7');
    t.after(() => client.endAsync());
    const topic = topicFor('vehicle', 'bus-9');
    for (const qos of [0, 1, 2] as const)
      await client.publishAsync(topic, JSON.stringify(readingFor('vehicle', qos + 1, Date.now())), { qos });

    const dead = await consumeAll({ topics: [topics.deadLetter], expected: 3, timeoutMs: 30_000 });
    const decoded = dead.map((m) => deadLetterType.fromBuffer(m.value!) as DeadLetter & { route: string });
    assert.deepEqual(
      decoded.map((d) => ({
        reason: d.reason,
        clientId: d.clientId,
        qos: d.qos,
        route: d.route,
        mqttTopic: d.mqttTopic,
      })),
      [0, 1, 2].map((qos) => ({
        reason: 'kafka_rejected',
        clientId: 'tracker-modem-7',
        qos,
        route: 'vehicle-gps',
        mqttTopic: topic,
      })),
    );
    // The payload is the Avro value Kafka refused: it decodes to what the device sent.
    assert.deepEqual(
      decoded.map((d) => (schemas.vehicle.fromBuffer(d.payload) as { seq: number }).seq),
      [1, 2, 3],
    );
    assert.equal(
      await metricValue(gateway.metrics.registry, 'weir_deadletter_records_total', {
        reason: 'kafka_rejected',
      }),
      3,
    );
  });

  test('an oversize packet closes only its own connection and is counted', async (t) => {
    const maxPacketBytes = 4096;
    const { gateway, topics, url } = await startTestGateway(t, {
      mqtt: { host: '127.0.0.1', port: 0, maxPacketBytes },
    });
    const good = await connectDevice(url, 'vehicle-ok');
    t.after(() => good.endAsync());

    // A raw socket announcing a 200 MB PUBLISH: refused as soon as the length is read.
    const raw = net.connect(gateway.mqtt.port, '127.0.0.1');
    await new Promise((resolve) => raw.once('connect', resolve));
    const clientId = Buffer.from('huge-sender');
    const connect = Buffer.concat([
      Buffer.from([
        0x10,
        12 + clientId.length,
        0,
        4,
        0x4d,
        0x51,
        0x54,
        0x54,
        4,
        2,
        0,
        60,
        0,
        clientId.length,
      ]),
      clientId,
    ]);
    raw.write(connect);
    raw.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x64])); // PUBLISH, remaining length 209,715,200
    const closed = new Promise((resolve) => raw.once('close', resolve));
    raw.resume();
    await closed;

    // And an mqtt.js client publishing one byte too many.
    const big = await connectDevice(url, 'vehicle-big');
    const bigClosed = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish(topicFor('vehicle', 'vehicle-big'), Buffer.alloc(maxPacketBytes), { qos: 1 });
    await bigClosed;
    big.end(true);

    const sent = await publishSequence(good, 'vehicle', 'vehicle-ok', 50);
    assert.equal(good.connected, true);
    const got = await consumeAll({ topics: [topics.vehicle], expected: sent.length, timeoutMs: 30_000 });
    assert.equal(got.length, sent.length);
    assert.equal(
      await metricValue(gateway.metrics.registry, 'weir_dropped_messages_total', { reason: 'too_large' }),
      2,
    );
  });
});
