// The front end's packet reader: whatever the read boundaries, a connection gets the same packets
// as from mqtt-packet's parser alone — plain PUBLISHes read directly, everything else (properties,
// other packet types, malformed packets) by the parser.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { ProtocolVersion } from '../../gateway/source/front-end/protocol.ts';
import { PacketReader } from '../../gateway/source/front-end/publish-reader.ts';

/** The fields a connection uses, for comparing packets from either path. */
function essentials(p: Packet): Record<string, unknown> {
  if (p.cmd !== 'publish') return { cmd: p.cmd, ...('messageId' in p && { messageId: p.messageId }) };
  return {
    cmd: p.cmd,
    qos: p.qos,
    dup: p.dup,
    retain: p.retain,
    topic: p.topic,
    payload: createHash('sha1').update(p.payload).digest('hex'),
    messageId: p.qos > 0 ? p.messageId : undefined,
    properties: p.properties,
  };
}

/** Packets from mqtt-packet alone, the stream read at once. */
function viaParser(stream: Buffer, version: ProtocolVersion): Array<Record<string, unknown>> {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: Array<Record<string, unknown>> = [];
  parser.on('packet', (p: Packet) => out.push(essentials(p)));
  parser.parse(stream);
  return out;
}

/** Packets through the reader, the stream cut into reads at `cuts`. */
function viaReader(stream: Buffer, version: ProtocolVersion, cuts: number[]): Array<Record<string, unknown>> {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: Array<Record<string, unknown>> = [];
  const take = (p: Packet) => out.push(essentials(p));
  parser.on('packet', take);
  const reader = new PacketReader(parser, take);
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    if (cut > from) reader.read(stream.subarray(from, cut), version, () => true);
    from = Math.max(from, cut);
  }
  return out;
}

const gen = (packet: Record<string, unknown>, version: ProtocolVersion) =>
  mqttPacket.generate(packet as unknown as Packet, { protocolVersion: version });

function sampleStream(version: ProtocolVersion): Buffer {
  const packets: Array<Record<string, unknown>> = [
    {
      cmd: 'publish',
      topic: 'factory/p1/l1/m1/telemetry',
      payload: Buffer.from('{"a":1}'),
      qos: 1,
      messageId: 7,
    },
    { cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 0, retain: true },
    { cmd: 'publish', topic: 'ü/ñ', payload: Buffer.alloc(300, 7), qos: 2, messageId: 65535, dup: true },
    { cmd: 'pingreq' },
    { cmd: 'pubrel', messageId: 65535 },
    { cmd: 'publish', topic: 'x', payload: Buffer.alloc(20_000, 1), qos: 1, messageId: 8 },
  ];
  if (version === 5) {
    packets.push({
      cmd: 'publish',
      topic: 'with/props',
      payload: Buffer.from('p'),
      qos: 1,
      messageId: 9,
      properties: { contentType: 'application/json', userProperties: { k: 'v' } },
    });
  }
  return Buffer.concat(packets.map((p) => gen(p, version)));
}

for (const version of [4, 5] as const) {
  test(`v${version}: the same packets as mqtt-packet, whatever the read boundaries`, () => {
    const stream = sampleStream(version);
    const expected = viaParser(stream, version);
    assert.equal(expected.length, version === 5 ? 7 : 6);
    assert.deepEqual(viaReader(stream, version, []), expected);
    // Every single cut, and every pair of cuts over the first few hundred bytes (headers cut off).
    for (let cut = 1; cut < stream.length; cut += cut < 400 ? 1 : 97) {
      assert.deepEqual(viaReader(stream, version, [cut]), expected, `cut at ${cut}`);
    }
    for (let a = 1; a < 120; a++) {
      for (let b = a + 1; b < 130; b += 3) {
        assert.deepEqual(viaReader(stream, version, [a, b]), expected, `cuts at ${a}, ${b}`);
      }
    }
  });
}

test('a malformed PUBLISH (both QoS bits set) is left to the parser, which refuses it', () => {
  const good = gen({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 1 }, 4);
  const bad = Buffer.from(good);
  bad[0] = 0x36; // QoS 3
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const errors: string[] = [];
  parser.on('error', (err: Error) => errors.push(err.message));
  const got: Packet[] = [];
  parser.on('packet', (p: Packet) => got.push(p));
  new PacketReader(parser, (p) => got.push(p)).read(Buffer.concat([good, bad]), 4, () => true);
  assert.equal(got.length, 1);
  assert.match(errors[0] ?? '', /QoS/);
});

test('a topic length past the packet is left to the parser, which refuses it', () => {
  const good = gen({ cmd: 'publish', topic: 'topic', payload: Buffer.alloc(0), qos: 0 }, 4);
  const bad = Buffer.from(good);
  bad.writeUInt16BE(200, 2);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const errors: string[] = [];
  parser.on('error', (err: Error) => errors.push(err.message));
  const got: Packet[] = [];
  parser.on('packet', (p: Packet) => got.push(p));
  new PacketReader(parser, (p) => got.push(p)).read(bad, 4, () => true);
  assert.equal(got.length, 0);
  assert.match(errors[0] ?? '', /topic/);
});

test('reading stops within a read once the connection closed', () => {
  const one = gen({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0 }, 4);
  const got: Packet[] = [];
  const reader = new PacketReader(mqttPacket.parser(), (p) => got.push(p));
  reader.read(Buffer.concat([one, one, one]), 4, () => got.length < 2);
  assert.equal(got.length, 2);
});
