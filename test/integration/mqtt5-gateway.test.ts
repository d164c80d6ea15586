// MQTT 5 devices (mqtt.js, protocolVersion 5) against the whole gateway and a real Kafka: logins
// refused with v5 reason codes, messages in Kafka, a publish into another device's topic refused
// with PUBACK 0x87 while the device stays connected, and DISCONNECT 0x8B when weir stops.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { consumeAll } from '../helpers/kafka.ts';
import { publishSequence, readingFor, topicFor } from '../support/devices.ts';
import { repoRoot, startTestGateway } from '../support/gateway.ts';
import { login, writeUsersFile } from '../support/security.ts';

const vehicleType = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;

test('MQTT 5 devices through the gateway: reason codes, Kafka, shutdown', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-v5-'));
  const usersFile = await writeUsersFile(dir, { 'bus-1': 'pw-of-bus-1' });
  const { gateway, topics, url } = await startTestGateway(t, { auth: { usersFile } });
  const v5 = { protocolVersion: 5 as const };

  assert.equal((await login(url, { ...v5, clientId: 'bus-1' })).code, 0x87, 'no credentials');
  const wrong = await login(url, { ...v5, clientId: 'bus-1', username: 'bus-1', password: 'nope' });
  assert.equal(wrong.code, 0x86, 'bad password');
  const other = await login(url, { ...v5, clientId: 'bus-2', username: 'bus-1', password: 'pw-of-bus-1' });
  assert.equal(other.code, 0x85, "another device's client id");

  const ok = await login(url, { ...v5, clientId: 'bus-1', username: 'bus-1', password: 'pw-of-bus-1' });
  assert.ok(ok.client, `login: ${ok.code}`);
  const client = ok.client;
  t.after(() => client.end(true));
  await publishSequence(client, 'vehicle', 'bus-1', 10);

  const refused = await client
    .publishAsync(topicFor('vehicle', 'bus-2'), JSON.stringify(readingFor('vehicle', 999, Date.now())), {
      qos: 1,
    })
    .then(
      () => 'acknowledged',
      (err: { code?: number }) => err.code,
    );
  assert.equal(refused, 0x87, 'PUBACK 0x87 for a topic of another device');
  assert.ok(client.connected, 'the device stays connected');
  await publishSequence(client, 'vehicle', 'bus-1', 5);

  const received = await consumeAll({ topics: [topics.vehicle], expected: 15, timeoutMs: 30_000 });
  const seqs = received.map((m) => (vehicleType.fromBuffer(m.value!) as { seq: number }).seq);
  assert.equal(seqs.length, 15);
  assert.ok(!seqs.includes(999), 'the refused message is not in Kafka');
  assert.equal(gateway.metrics.dropped.counts.unauthorized, 1);
  assert.equal(gateway.metrics.authFailures.counts.no_credentials, 1);

  const disconnect = new Promise<number | undefined>((resolve) =>
    client.once('disconnect', (p: IDisconnectPacket) => resolve(p.reasonCode)),
  );
  await gateway.stop();
  assert.equal(await disconnect, 0x8b, 'server shutting down');
});
