// Works around a slow memory leak in mqtt-packet 9 (the encoder aedes writes every packet with).
// writeToStream caches the encoded remaining length of each value below 16,384 the first time it
// writes one, as a 1–2 byte Buffer.allocUnsafe slice of Node's shared 8 KiB buffer pool — so each
// cached slice keeps a whole 8 KiB slab alive. Traffic with varied packet lengths (deliveries to
// subscribers, SUBACKs) fills the cache over hours: up to 16,384 pinned slabs, 128 MiB of RSS that
// never comes back (found by the fuzz run: RSS grew linearly). Writing every length once at
// start-up fills the cache in one go, a few slabs side by side (~130 KiB), and nothing is pinned
// later.
import type { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';

/** mqtt-packet caches lengths below this (writeToStream.js, writeVarByteInt). */
const CACHED_LENGTHS = 16_384;
let filled = false;

export function prefillPacketLengthCache(): void {
  if (filled) return;
  filled = true;
  const discard = { write: () => true } as unknown as Writable;
  mqttPacket.writeToStream({ cmd: 'pingresp' }, discard); // remaining length 0
  const payload = Buffer.alloc(CACHED_LENGTHS);
  // PUBLISH QoS 0 to topic "a": remaining length = 2 + 1 + payload. Lengths 1 and 2 come from
  // PUBLISH with an empty topic and payload (1 is never written by aedes; 2 is every PUBACK).
  mqttPacket.writeToStream({ cmd: 'puback', messageId: 1 }, discard);
  for (let length = 3; length < CACHED_LENGTHS; length++) {
    mqttPacket.writeToStream(
      {
        cmd: 'publish',
        topic: 'a',
        payload: payload.subarray(0, length - 3),
        qos: 0,
        dup: false,
        retain: false,
      },
      discard,
    );
  }
}
