// Splits a connection's reads into packets, decoding the plain PUBLISH itself and handing every
// other packet to mqtt-packet's parser.
//
// Why: at the ingest ceiling (blackhole sink, spool on) mqtt-packet's parser took about a quarter
// of the gateway's CPU per message — its `debug` calls alone (a dozen per packet, made even when
// debugging is off) 8 %, its buffer list's copies and slices 5 %. A plain PUBLISH is a few fields
// at fixed places, so it is read here straight from the socket's chunk.
//
// "Plain": the whole packet is in the chunk, QoS 0–2, the topic inside the packet, the packet id
// there for QoS 1/2, and (MQTT 5) no properties. Anything else — other packet types, properties,
// a malformed or cut-off packet — goes to mqtt-packet as before, so its checks and error messages
// stay the only ones. mqtt-packet keeps a packet cut off at the end of a chunk; the next chunk's
// bytes that complete it go to it too, and plain reading resumes after them.
import type { IPublishPacket, Packet, Parser } from 'mqtt-packet';
import type { ProtocolVersion } from './protocol.ts';

const PUBLISH = 3;

export class PacketReader {
  readonly #parser: Parser;
  readonly #onPacket: (packet: Packet) => void;
  /**
   * Bytes the parser still needs to complete the packet it holds: 0 when it holds none, -1 when
   * its fixed header was cut off too (not known: every read goes to it until it holds nothing).
   */
  #owed = 0;

  constructor(parser: Parser, onPacket: (packet: Packet) => void) {
    this.#parser = parser;
    this.#onPacket = onPacket;
  }

  /**
   * Takes one read. `version`: the connection's protocol level once CONNECT was accepted (until
   * then, null: everything goes to the parser, which learns the version from CONNECT).
   * `reading()`: false once the connection closed, to stop in the middle of a chunk.
   */
  read(chunk: Buffer, version: ProtocolVersion | null, reading: () => boolean): void {
    if (version === null || this.#owed < 0) {
      this.#owed = this.#parser.parse(chunk) === 0 ? 0 : -1;
      return;
    }
    let at = 0;
    if (this.#owed > 0) {
      at = Math.min(this.#owed, chunk.length);
      this.#parser.parse(at === chunk.length ? chunk : chunk.subarray(0, at));
      this.#owed -= at;
    }
    const n = chunk.length;
    while (at < n && reading()) {
      // Fixed header: the type byte, then the remaining length (1–4 bytes, 7 bits each).
      let p = at + 1;
      let length = 0;
      let multiplier = 1;
      let complete = false;
      while (p < n && p <= at + 4) {
        const b = chunk[p++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        // Cut off (or malformed, more than 4 length bytes: the parser says so).
        this.#owed = this.#parser.parse(chunk.subarray(at)) === 0 ? 0 : -1;
        return;
      }
      const end = p + length;
      if (end > n) {
        this.#parser.parse(chunk.subarray(at));
        this.#owed = end - n;
        return;
      }
      const packet = chunk[at]! >> 4 === PUBLISH ? plainPublish(chunk, at, p, end, version) : null;
      if (packet !== null) this.#onPacket(packet);
      else this.#parser.parse(chunk.subarray(at, end));
      at = end;
    }
  }
}

/** The PUBLISH from `at` (body from `body` to `end`), or null when it is not plain. */
function plainPublish(
  chunk: Buffer,
  at: number,
  body: number,
  end: number,
  version: ProtocolVersion,
): IPublishPacket | null {
  const flags = chunk[at]! & 0x0f;
  const qos = (flags >> 1) & 3;
  if (qos === 3) return null;
  if (body + 2 > end) return null;
  const topicEnd = body + 2 + chunk.readUInt16BE(body);
  let p = topicEnd;
  let messageId: number | undefined;
  if (qos > 0) {
    if (p + 2 > end) return null;
    messageId = chunk.readUInt16BE(p);
    p += 2;
  }
  if (p > end) return null;
  if (version === 5) {
    // Property length 0 (one byte); any property, and the parser reads them.
    if (p >= end || chunk[p] !== 0) return null;
    p++;
  }
  // The shape mqtt-packet gives (its Packet), so the connection handles both alike.
  return {
    cmd: 'publish',
    retain: (flags & 1) !== 0,
    qos,
    dup: (flags & 8) !== 0,
    length: end - body,
    topic: chunk.toString('utf8', body + 2, topicEnd),
    payload: chunk.subarray(p, end),
    messageId,
  } as IPublishPacket;
}
