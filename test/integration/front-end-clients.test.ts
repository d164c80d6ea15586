// The device front end with independent MQTT clients over real sockets: mqtt.js speaking 3.1.1
// and 5 (TCP and WebSocket) and mosquitto_pub (-V mqttv311 / mqttv5). What each client sends
// reaches the intake once per QoS 1/2 message, with its v5 properties; what the front end answers
// is read by the clients themselves (CONNACK properties, reason codes, DISCONNECT reasons).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { WeirError } from '../../gateway/errors.ts';
import { serveFrontEnd, sleep, until } from '../support/front-end.ts';

const run = promisify(execFile);

async function connect(
  t: { after(fn: () => unknown): void },
  url: string,
  o: IClientOptions,
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...o });
  t.after(() => client.end(true));
  return client;
}

for (const protocolVersion of [4, 5] as const) {
  for (const transport of ['tcp', 'ws'] as const) {
    test(`mqtt.js MQTT ${protocolVersion === 5 ? '5' : '3.1.1'} over ${transport}: QoS 0, 1, 2 reach the intake once, acknowledged`, async (t) => {
      const { intake, port, wsPort } = await serveFrontEnd(t);
      const url = transport === 'tcp' ? `mqtt://127.0.0.1:${port}` : `ws://127.0.0.1:${wsPort}/mqtt`;
      const clientId = `dev-${randomUUID().slice(0, 8)}`;
      const client = await connect(t, url, { protocolVersion, clientId });
      const properties =
        protocolVersion === 5
          ? { userProperties: { site: 'north', unit: 'C' }, contentType: 'application/json' }
          : undefined;
      for (const qos of [0, 1, 2] as const) {
        const packet = await client.publishAsync(`plant/${clientId}/q${qos}`, `{"qos":${qos}}`, {
          qos,
          properties,
        });
        if (qos > 0) assert.ok(packet !== undefined, `QoS ${qos} acknowledged`);
      }
      await until(() => intake.messages.length === 3, 'three messages');
      assert.deepEqual(
        intake.messages.map((m) => [m.topic, m.qos, m.payload.toString(), m.clientId, m.identity]),
        [0, 1, 2].map((qos) => [`plant/${clientId}/q${qos}`, qos, `{"qos":${qos}}`, clientId, null]),
      );
      for (const m of intake.messages) {
        assert.ok(Math.abs(m.receivedAt - Date.now()) < 5000);
        if (protocolVersion === 5) {
          assert.deepEqual({ ...m.userProperties }, { site: 'north', unit: 'C' });
          assert.equal(m.contentType, 'application/json');
        } else {
          assert.equal(m.userProperties, undefined);
        }
      }
    });
  }
}

test('mqtt.js 5: CONNACK announces the limits and assigns a client id to an empty one', async (t) => {
  const { intake, port } = await serveFrontEnd(t, {
    receiveMaximum: 50,
    topicAliasMaximum: 8,
    maxPacketBytes: 4096,
  });
  const client = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: '' });
  const props = (client as unknown as { _serverProperties: Record<string, unknown> })._serverProperties;
  assert.equal(props['receiveMaximum'], 50);
  assert.equal(props['topicAliasMaximum'], 8);
  assert.equal(props['maximumPacketSize'], 4096 + 5);
  const assigned = props['assignedClientIdentifier'];
  assert.match(String(assigned), /^weir-[0-9a-f-]{36}$/);
  await client.publishAsync('a/b', 'x', { qos: 1 });
  assert.equal(intake.messages[0]!.clientId, assigned);
});

test('mqtt.js 5: a topic alias defined once is used by later publishes', async (t) => {
  const { intake, port } = await serveFrontEnd(t);
  const client = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'alias-dev' });
  await client.publishAsync('factory/line-1/m-7/telemetry', 'first', {
    qos: 1,
    properties: { topicAlias: 3 },
  });
  await client.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 3 } });
  assert.deepEqual(
    intake.messages.map((m) => [m.topic, m.payload.toString()]),
    [
      ['factory/line-1/m-7/telemetry', 'first'],
      ['factory/line-1/m-7/telemetry', 'second'],
    ],
  );
});

test('mqtt.js 5: PUBACK 0x87 for a publish the intake refuses as unauthorized; the device stays connected', async (t) => {
  const { intake, port } = await serveFrontEnd(t);
  const client = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'bus-17' });
  intake.mode = new WeirError('WEIR_UNAUTHORIZED', 'not your topic');
  await assert.rejects(client.publishAsync('fleet/x/bus-18', 'x', { qos: 1 }), (err: { code?: number }) => {
    assert.equal(err.code, 0x87);
    return true;
  });
  intake.mode = 'settle';
  await client.publishAsync('fleet/x/bus-17', 'y', { qos: 1 });
  assert.equal(client.connected, true);
  assert.equal(intake.messages.length, 2);
});

test('mqtt.js 5: PUBACK 0x90 for a topic with a wildcard; not passed to the intake', async (t) => {
  const { intake, port } = await serveFrontEnd(t);
  const client = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'wild' });
  // mqtt.js refuses to send such a topic itself; the packet is written as it would be on the wire.
  const stream = (client as unknown as { stream: NodeJS.WritableStream }).stream;
  const { default: mqttPacket } = await import('mqtt-packet');
  const acks: number[] = [];
  client.on('packetreceive', (p) => {
    if (p.cmd === 'puback') acks.push((p as { reasonCode?: number }).reasonCode ?? 0);
  });
  stream.write(
    mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'a/+/b',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 40_000,
        dup: false,
        retain: false,
      },
      { protocolVersion: 5 },
    ),
  );
  await until(() => acks.length === 1, 'PUBACK');
  assert.deepEqual(acks, [0x90]);
  assert.equal(intake.messages.length, 0);
});

test('session takeover: a second CONNECT with the same client id closes the first (v5 DISCONNECT 0x8E)', async (t) => {
  const { frontEnd, port } = await serveFrontEnd(t);
  const first = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'twin' });
  const reasons: number[] = [];
  first.on('disconnect', (p) => reasons.push(p.reasonCode ?? -1));
  const old311 = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: 'twin-311' });
  const oldClosed = new Promise((resolve) => old311.stream.once('close', resolve));

  const second = await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'twin' });
  await until(() => reasons.length === 1, 'DISCONNECT on the first connection');
  assert.deepEqual(reasons, [0x8e]);
  await connect(t, `mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: 'twin-311' });
  await oldClosed; // 3.1.1 has no DISCONNECT from the server: the old connection is closed
  await second.publishAsync('a/b', 'still here', { qos: 1 });
  assert.equal(frontEnd.connectedDevices(), 2);
});

test('SUBSCRIBE: each filter answered by authorizeSubscribe (3.1.1 failure 0x80, v5 0x87)', async (t) => {
  const { port } = await serveFrontEnd(t, {
    hooks: { authorizeSubscribe: (device, filter) => filter === `cmd/${device.clientId}/#` },
  });
  for (const protocolVersion of [4, 5] as const) {
    const client = await connect(t, `mqtt://127.0.0.1:${port}`, {
      protocolVersion,
      clientId: `s${protocolVersion}`,
    });
    const granted = await client
      .subscribeAsync([`cmd/s${protocolVersion}/#`, 'cmd/other/#'], { qos: 1 })
      .catch((err: { packet?: { granted: number[] } }) => err.packet!.granted.map((qos) => ({ qos })));
    assert.deepEqual(
      granted.map((g) => g.qos),
      [0, protocolVersion === 5 ? 0x87 : 0x80],
    );
  }
});

for (const version of ['mqttv311', 'mqttv5'] as const) {
  test(`mosquitto_pub -V ${version}: QoS 0, 1, 2 reach the intake${version === 'mqttv5' ? ' with user properties and content type' : ''}`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    for (const qos of [0, 1, 2]) {
      const v5 =
        version === 'mqttv5'
          ? ['-D', 'publish', 'user-property', 'line', '7', '-D', 'publish', 'content-type', 'text/plain']
          : [];
      await run('mosquitto_pub', [
        ...['-h', '127.0.0.1', '-p', String(port), '-V', version, '-q', String(qos)],
        ...['-i', `mosq-${qos}`, '-t', `site/mosq-${qos}/reading`, '-m', `{"n":${qos}}`],
        ...v5,
      ]);
    }
    await until(() => intake.messages.length === 3, 'three messages');
    assert.deepEqual(
      intake.messages.map((m) => [m.topic, m.qos, m.payload.toString(), m.clientId]),
      [0, 1, 2].map((qos) => [`site/mosq-${qos}/reading`, qos, `{"n":${qos}}`, `mosq-${qos}`]),
    );
    if (version === 'mqttv5') {
      for (const m of intake.messages) {
        assert.deepEqual({ ...m.userProperties }, { line: '7' });
        assert.equal(m.contentType, 'text/plain');
      }
    }
  });
}

test('mosquitto_pub -V mqttv5 waits while the intake holds its QoS 1 message, and is acknowledged on settle', async (t) => {
  const { intake, port } = await serveFrontEnd(t);
  intake.mode = 'hold';
  const pub = run('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-V',
    'mqttv5',
    '-q',
    '1',
    '-i',
    'slow',
    '-t',
    'a/slow',
    '-m',
    'x',
  ]);
  let finished = false;
  void pub.then(() => {
    finished = true;
  });
  await until(() => intake.held.length === 1, 'the held message');
  await sleep(300);
  assert.equal(finished, false, 'mosquitto_pub still waits for its PUBACK');
  intake.release();
  await pub;
});
