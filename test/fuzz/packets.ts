// Hostile MQTT traffic for the fuzz driver: sessions of packets built with mqtt-packet, mutated
// byte by byte, hand-made malformed frames (huge or wrong remaining lengths, invalid UTF-8,
// reserved bits, unknown types), packets out of order, and random bytes. All from one Prng, so a
// seed replays the same traffic.
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Prng } from './prng.ts';

export type SessionKind = 'protocol' | 'no-connect' | 'bad-connect' | 'out-of-order' | 'malformed' | 'random';

export interface Session {
  readonly kind: SessionKind;
  readonly frames: Buffer[];
}

const KINDS: ReadonlyArray<[SessionKind, number]> = [
  ['protocol', 40],
  ['no-connect', 10],
  ['bad-connect', 15],
  ['out-of-order', 15],
  ['malformed', 12],
  ['random', 8],
];
const TOTAL_WEIGHT = KINDS.reduce((n, [, w]) => n + w, 0);

/** Topics: some a route matches (with bad payloads), some no route does, some over the limits. */
function topic(rng: Prng): string {
  switch (rng.int(0, 9)) {
    case 0:
      return `city/d${rng.int(0, 3)}/air/fuzz-${rng.int(0, 99)}`;
    case 1:
      return `fleet/buses/vehicles/fuzz-${rng.int(0, 99)}/position`;
    case 2:
      return 'x'.repeat(rng.int(1000, 5000));
    case 3:
      return Array.from({ length: rng.int(20, 120) }, () => 'l').join('/');
    case 4:
      return rng.pick(['#', '+', 'a/#', 'a/+/b', '', '/', '//', '$SYS/x', 'a\u0000b']);
    case 5:
      return String.fromCharCode(...Array.from({ length: rng.int(1, 30) }, () => rng.int(1, 0xd7ff)));
    default:
      return `fuzz/${rng.int(0, 1000)}/${rng.bytes(rng.int(1, 8)).toString('hex')}`;
  }
}

function payload(rng: Prng): Buffer {
  switch (rng.int(0, 3)) {
    case 0:
      return Buffer.from(JSON.stringify({ seq: rng.int(0, 1e6), ts: Date.now(), pm25UgM3: rng.next() }));
    case 1:
      return Buffer.from('{"seq":');
    case 2:
      return Buffer.alloc(0);
    default:
      return rng.bytes(rng.int(1, rng.chance(0.05) ? 20_000 : 300));
  }
}

const clientId = (rng: Prng) => `fuzz-${rng.int(0, 499)}`;

function connectPacket(rng: Prng): Packet {
  return {
    cmd: 'connect',
    protocolId: rng.chance(0.9) ? 'MQTT' : 'MQIsdp',
    protocolVersion: rng.chance(0.9) ? 4 : 3,
    clean: rng.chance(0.8),
    clientId: rng.chance(0.05) ? '' : clientId(rng),
    keepalive: rng.pick([0, 5, 30, 60, 60, 60, 600, 65_535]),
    ...(rng.chance(0.1)
      ? {
          will: {
            topic: topic(rng),
            payload: payload(rng),
            qos: rng.int(0, 2) as 0 | 1 | 2,
            retain: rng.chance(0.5),
          },
        }
      : {}),
    ...(rng.chance(0.1) ? { username: 'u', password: Buffer.from('p') } : {}),
  } as Packet;
}

function anyPacket(rng: Prng): Packet {
  const messageId = rng.int(1, 65_535);
  switch (rng.int(0, 11)) {
    case 0:
    case 1:
    case 2:
    case 3: {
      const qos = rng.int(0, 2) as 0 | 1 | 2;
      return {
        cmd: 'publish',
        topic: topic(rng),
        payload: payload(rng),
        qos,
        messageId,
        dup: rng.chance(0.1),
        retain: rng.chance(0.1),
      };
    }
    case 4:
      return {
        cmd: 'subscribe',
        messageId,
        subscriptions: Array.from({ length: rng.int(1, 4) }, () => ({
          topic: topic(rng),
          qos: rng.int(0, 2) as 0 | 1 | 2,
        })),
      };
    case 5:
      return { cmd: 'unsubscribe', messageId, unsubscriptions: [topic(rng)] };
    case 6:
      return { cmd: 'puback', messageId };
    case 7:
      return { cmd: 'pubrec', messageId };
    case 8:
      return { cmd: 'pubrel', messageId };
    case 9:
      return { cmd: 'pubcomp', messageId };
    case 10:
      return { cmd: 'pingreq' };
    default:
      return rng.chance(0.3) ? { cmd: 'disconnect' } : { cmd: 'pingreq' };
  }
}

/** Encodes a packet; a packet mqtt-packet refuses to build becomes random bytes. */
function encode(packet: Packet, rng: Prng): Buffer {
  try {
    return mqttPacket.generate(packet);
  } catch {
    return rng.bytes(rng.int(2, 40));
  }
}

/** MQTT's variable-length remaining-length field. */
function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** Frames no encoder would produce. */
function malformed(rng: Prng): Buffer {
  switch (rng.int(0, 9)) {
    case 0: // the largest remaining length MQTT can express (256 MB), then a little body
      return Buffer.concat([Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), rng.bytes(rng.int(0, 100))]);
    case 1: // a remaining-length field of 5+ bytes (invalid)
      return Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00]);
    case 2: {
      // PUBLISH whose topic is invalid UTF-8
      const topicBytes = rng.pick([
        Buffer.from([0xc3, 0x28]),
        Buffer.from([0xff, 0xfe]),
        Buffer.from([0xed, 0xa0, 0x80]),
      ]);
      const body = Buffer.concat([Buffer.from([0, topicBytes.length]), topicBytes, Buffer.from('{}')]);
      return Buffer.concat([Buffer.from([0x30]), remainingLength(body.length), body]);
    }
    case 3: {
      // a remaining length that lies (shorter or longer than the body)
      const frame = encode(anyPacket(rng), rng);
      const body = frame.subarray(frame.length > 1 && frame[1]! < 0x80 ? 2 : 1);
      return Buffer.concat([
        frame.subarray(0, 1),
        remainingLength(Math.max(0, body.length + rng.int(-5, 5))),
        body,
      ]);
    }
    case 4: // reserved packet types 0 and 15, and reserved flag bits
      return Buffer.from([rng.pick([0x00, 0xf0, 0x31 | 0x06, 0x82 & 0xf0, 0x62 ^ 0x02, 0xc1, 0xe2]), 0x00]);
    case 5: // SUBSCRIBE with zero topics
      return Buffer.from([0x82, 0x02, 0x00, rng.int(1, 255)]);
    case 6: // PUBLISH QoS 3
      return Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]);
    case 7: // CONNECT with a wrong protocol name or level
      return Buffer.from([
        0x10,
        0x0c,
        0x00,
        0x04,
        ...Buffer.from(rng.pick(['MQTX', 'mqtt', 'MQTT'])),
        rng.pick([0, 2, 5, 6, 255]),
        0x02,
        0x00,
        0x3c,
        0x00,
        0x00,
      ]);
    case 8: // a packet cut short
      return encode(anyPacket(rng), rng).subarray(0, rng.int(1, 4));
    default: // zero-length bodies for packets that need one
      return Buffer.from([rng.pick([0x10, 0x30, 0x32, 0x40, 0x50, 0x62, 0x70, 0x82, 0xa2]), 0x00]);
  }
}

/** Flips bits, cuts, pads or rewrites the header of an encoded frame. */
function mutate(frame: Buffer, rng: Prng): Buffer {
  const b = Buffer.from(frame);
  switch (rng.int(0, 4)) {
    case 0:
      for (let i = rng.int(1, 3); i > 0; i--) b[rng.int(0, b.length - 1)]! ^= 1 << rng.int(0, 7);
      return b;
    case 1:
      return b.subarray(0, rng.int(0, b.length - 1));
    case 2:
      return Buffer.concat([b, rng.bytes(rng.int(1, 16))]);
    case 3:
      b[0] = rng.int(0, 255);
      return b;
    default:
      if (b.length > 1) b[1] = rng.int(0, 255);
      return b;
  }
}

export function nextSession(rng: Prng): Session {
  let r = rng.next() * TOTAL_WEIGHT;
  let kind: SessionKind = 'protocol';
  for (const [k, w] of KINDS) {
    r -= w;
    if (r < 0) {
      kind = k;
      break;
    }
  }
  const frames: Buffer[] = [];
  const count = rng.int(1, 40);
  switch (kind) {
    case 'protocol':
      frames.push(encode(connectPacket(rng), rng));
      for (let i = 0; i < count; i++) {
        const f = encode(anyPacket(rng), rng);
        frames.push(rng.chance(0.1) ? mutate(f, rng) : f);
      }
      break;
    case 'no-connect':
      for (let i = 0; i < count; i++) frames.push(encode(anyPacket(rng), rng));
      break;
    case 'bad-connect':
      frames.push(mutate(encode(connectPacket(rng), rng), rng));
      for (let i = 0; i < count; i++) frames.push(encode(anyPacket(rng), rng));
      break;
    case 'out-of-order':
      frames.push(encode(connectPacket(rng), rng));
      for (let i = 0; i < count; i++) {
        frames.push(
          rng.chance(0.3)
            ? encode(connectPacket(rng), rng) // a second CONNECT
            : encode(
                {
                  cmd: rng.pick(['pubrel', 'puback', 'pubrec', 'pubcomp'] as const),
                  messageId: rng.int(1, 65_535),
                },
                rng,
              ),
        );
      }
      break;
    case 'malformed':
      if (rng.chance(0.7)) frames.push(encode(connectPacket(rng), rng));
      for (let i = 0; i < Math.min(count, 5); i++) frames.push(malformed(rng));
      break;
    case 'random':
      for (let i = 0; i < Math.min(count, 5); i++) frames.push(rng.bytes(rng.int(1, 2000)));
      break;
  }
  return { kind, frames };
}
