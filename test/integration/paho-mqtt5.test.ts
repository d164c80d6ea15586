// paho-mqtt (Python), an MQTT 5 client independent of weir's own stack, against the whole gateway
// and a real Kafka: what two devices read in CONNACK, their QoS 1 and QoS 2 messages acknowledged
// with success and in Kafka in order under their own key, a publish into another device's topic
// (0x87) and a topic over the limits (0x90) refused while the device stays connected, a topic
// alias resolved, and DISCONNECT 0x8B reported to paho when weir stops.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { type ConsumedMessage, consumeAll } from '../helpers/kafka.ts';
import { type Fleet, readingFor, topicFor } from '../support/devices.ts';
import { repoRoot, startTestGateway } from '../support/gateway.ts';
import { type PahoDevice, type PahoMessage, pahoDevice, requirePaho } from '../support/paho.ts';
import { writeUsersFile } from '../support/security.ts';

const schemaType = (file: string) => loadSchema(path.join(repoRoot, 'schemas', file)).type;
const vehicleType = schemaType('vehicle-gps.avsc');
const factoryType = schemaType('factory-line.avsc');

/** One reading per seq on the device's fleet topic, each at `qos`. */
function readings(fleet: Fleet, deviceId: string, seqs: readonly number[], qos: 1 | 2): PahoMessage[] {
  return seqs.map((seq) => ({
    topic: topicFor(fleet, deviceId),
    payload: JSON.stringify(readingFor(fleet, seq, Date.now())),
    qos,
  }));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The reason code of each acknowledgement packet the device got, by message index. */
function acks(device: PahoDevice, packet: string): Map<number, number> {
  return new Map(
    device.events
      .filter((e) => e.event === 'ack' && e.packet === packet)
      .map((e) => [e.index!, e.reasonCode!]),
  );
}

function seqsAndKeys(messages: ConsumedMessage[], type: typeof vehicleType) {
  return {
    seqs: messages.map((m) => (type.fromBuffer(m.value!) as { seq: number }).seq),
    keys: new Set(messages.map((m) => m.key?.toString())),
  };
}

test('paho-mqtt MQTT 5 devices through the gateway: CONNACK, reason codes, topic alias, Kafka, shutdown', async (t) => {
  await requirePaho();
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-paho-'));
  const usersFile = await writeUsersFile(dir, { 'bus-1': 'pw-of-bus-1', 'press-7': 'pw-of-press-7' });
  const { gateway, topics } = await startTestGateway(t, { auth: { usersFile } });
  const port = gateway.mqtt.port;

  // bus-1: QoS 1 and QoS 2 readings, two publishes weir refuses, one no route matches (a dead
  // letter), then readings through a topic alias (set once, then an empty topic), then more.
  const bus: PahoMessage[] = [
    ...readings('vehicle', 'bus-1', range(1, 20), 1),
    ...readings('vehicle', 'bus-1', range(21, 25), 2),
    { topic: topicFor('vehicle', 'bus-2'), payload: JSON.stringify(readingFor('vehicle', 999, 0)), qos: 1 },
    { topic: `${'deep/'.repeat(32)}bus-1`, payload: '{}', qos: 1 },
    { topic: 'weather/bus-1/now', payload: '{"tempC":4}', qos: 1 },
    { ...readings('vehicle', 'bus-1', [26], 1)[0]!, alias: 5 },
    { ...readings('vehicle', 'bus-1', [27], 1)[0]!, topic: '', alias: 5 },
    { ...readings('vehicle', 'bus-1', [28], 2)[0]!, topic: '', alias: 5 },
    ...readings('vehicle', 'bus-1', range(29, 30), 1),
  ];
  // The reason code of each refused message (index in `bus`): another device's topic, too deep.
  const busRefusals = new Map([
    [25, 0x87],
    [26, 0x90],
  ]);
  // press-7 connects with an empty client id, which MQTT 5 allows: weir assigns one.
  const press = [
    ...readings('factory', 'press-7', range(1, 20), 1),
    ...readings('factory', 'press-7', range(21, 25), 2),
  ];
  const busDevice = pahoDevice(t, {
    port,
    clientId: 'bus-1',
    username: 'bus-1',
    password: 'pw-of-bus-1',
    sessionExpirySeconds: 0xffffffff, // "never expires": more than weir keeps a session
    messages: bus,
    stay: true,
  });
  const pressDevice = pahoDevice(t, {
    port,
    clientId: '',
    username: 'press-7',
    password: 'pw-of-press-7',
    messages: press,
    stay: true,
  });

  const busConnack = await busDevice.next('connack');
  const pressConnack = await pressDevice.next('connack');
  assert.equal(busConnack.reasonCode, 0);
  assert.equal(pressConnack.reasonCode, 0);
  assert.equal(busConnack.sessionPresent, false);
  for (const { properties } of [busConnack, pressConnack]) {
    assert.equal(properties!['ReceiveMaximum'], 1000, 'Receive Maximum');
    assert.equal(
      properties!['MaximumPacketSize'],
      262_144 + 5,
      'Maximum Packet Size: mqtt.maxPacketBytes + header',
    );
    assert.equal(properties!['TopicAliasMaximum'], 64, 'Topic Alias Maximum');
  }
  assert.equal(
    busConnack.properties!['SessionExpiryInterval'],
    7 * 24 * 3600,
    'session expiry capped at 7 days',
  );
  assert.equal(busConnack.properties!['AssignedClientIdentifier'], undefined);
  assert.match(String(pressConnack.properties!['AssignedClientIdentifier']), /^weir-[0-9a-f-]{36}$/);
  assert.equal(pressConnack.properties!['SessionExpiryInterval'], undefined, 'the asked expiry (0) holds');

  await busDevice.next('done');
  await pressDevice.next('done');

  // What each device was told, message by message.
  for (const [device, messages, refusals] of [
    [busDevice, bus, busRefusals],
    [pressDevice, press, new Map<number, number>()],
  ] as const) {
    // One acknowledgement per QoS 1 message, two per QoS 2 (PUBREC, PUBCOMP): none twice.
    const ackCount = device.events.filter((e) => e.event === 'ack').length;
    assert.equal(
      ackCount,
      messages.reduce((n, m) => n + m.qos, 0),
    );
    const puback = acks(device, 'PUBACK');
    const pubrec = acks(device, 'PUBREC');
    const pubcomp = acks(device, 'PUBCOMP');
    messages.forEach((m, i) => {
      if (m.qos === 1) assert.equal(puback.get(i), refusals.get(i) ?? 0, `PUBACK of message ${i}`);
      else {
        assert.equal(pubrec.get(i), 0, `PUBREC of message ${i}`);
        assert.equal(pubcomp.get(i), 0, `PUBCOMP of message ${i}`);
      }
    });
  }
  // Refused publishes came before the last ones, which were acknowledged: the connection stayed up.
  assert.deepEqual(
    [busDevice, pressDevice].map((d) => d.events.filter((e) => e.event === 'disconnect')),
    [[], []],
  );

  // In Kafka: every acknowledged reading, once, in order, under its device's key.
  const [vehicle, factory, deadLetters] = await Promise.all([
    consumeAll({ topics: [topics.vehicle], expected: 30 }),
    consumeAll({ topics: [topics.factory], expected: 25 }),
    consumeAll({ topics: [topics.deadLetter], expected: 1 }),
  ]);
  assert.deepEqual(seqsAndKeys(vehicle, vehicleType), { seqs: range(1, 30), keys: new Set(['bus-1']) });
  assert.deepEqual(seqsAndKeys(factory, factoryType), { seqs: range(1, 25), keys: new Set(['press-7']) });
  assert.equal(deadLetters.length, 1, 'the message no route matches is a dead letter');
  assert.equal(gateway.metrics.deadLetters.counts.no_route, 1);
  assert.equal(gateway.metrics.dropped.counts.unauthorized, 1);
  assert.equal(gateway.metrics.dropped.counts.topic_too_many_levels, 1);

  await gateway.stop();
  for (const device of [busDevice, pressDevice]) {
    const { reasonCode, reasonString } = await device.next('disconnect');
    assert.deepEqual([reasonCode, reasonString], [0x8b, 'server shutting down'], 'as paho reports it');
    assert.equal(await device.exited, 0);
  }
});
