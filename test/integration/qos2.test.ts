// QoS 2: a device's retransmissions (DUP) must not become duplicates in Kafka — neither a DUP sent
// after the PUBREC, nor one sent while the first copy is still being spooled. Raw MQTT packets
// over a real socket, so the test controls exactly what the device sends.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { consumeAll } from '../helpers/kafka.ts';
import { readingFor, topicFor } from '../support/devices.ts';
import { repoRoot, startTestGateway } from '../support/gateway.ts';

class RawDevice {
  readonly socket: net.Socket;
  readonly #received: Packet[] = [];
  #wake: (() => void) | null = null;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      this.#received.push(p);
      this.#wake?.();
    });
    this.socket.on('data', (d) => parser.parse(d));
  }

  send(...packets: Packet[]): void {
    this.socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p))));
  }

  async next(cmd: string, timeoutMs = 10_000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#received.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.#received.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${cmd} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }
}

test('QoS 2 retransmissions are acknowledged but not duplicated in Kafka', async (t) => {
  const { gateway, topics } = await startTestGateway(t);
  const device = new RawDevice(gateway.mqtt.port);
  t.after(() => device.socket.destroy());
  await once(device.socket, 'connect');
  device.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: 'q2-device',
    keepalive: 60,
  });
  await device.next('connack');

  const topic = topicFor('vehicle', 'q2-device');
  const publish = (messageId: number, seq: number, dup: boolean): Packet => ({
    cmd: 'publish',
    topic,
    payload: Buffer.from(JSON.stringify(readingFor('vehicle', seq, 1_763_800_000_000 + seq))),
    qos: 2,
    dup,
    retain: false,
    messageId,
  });

  // A: the DUP comes after the PUBREC (the device missed it).
  device.send(publish(7, 1, false));
  assert.equal((await device.next('pubrec')).messageId, 7);
  device.send(publish(7, 1, true));
  assert.equal((await device.next('pubrec')).messageId, 7);
  device.send({ cmd: 'pubrel', messageId: 7 });
  assert.equal((await device.next('pubcomp')).messageId, 7);

  // B: the DUP arrives in the same write as the first copy, while it is still being spooled.
  device.send(publish(8, 2, false), publish(8, 2, true));
  assert.equal((await device.next('pubrec')).messageId, 8);
  assert.equal((await device.next('pubrec')).messageId, 8);
  device.send({ cmd: 'pubrel', messageId: 8 });
  assert.equal((await device.next('pubcomp')).messageId, 8);

  // C: a new message after the retransmissions still goes through.
  device.send(publish(9, 3, false));
  await device.next('pubrec');
  device.send({ cmd: 'pubrel', messageId: 9 });
  await device.next('pubcomp');

  const got = await consumeAll({ topics: [topics.vehicle], expected: 4, timeoutMs: 8000 });
  const type = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;
  assert.deepEqual(
    got.map((m) => (type.fromBuffer(m.value!) as { seq: number }).seq),
    [1, 2, 3],
    'each message once, in order',
  );
});
