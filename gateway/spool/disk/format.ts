// On-disk format of the spool. Pure functions and in-memory dictionaries, no I/O. The invariants
// and the way the files are used are described in spool.ts.
//
// Segment file `<firstSeq as 20 digits>.seg`:
//   header   16 bytes: magic "WEIRSPL\0" (8) · format version u32 LE (4) · reserved u32 (4)
//   frames   one after another, nothing in between
//
// Frame, format 3 (all integers little-endian):
//   u32  frameLength      bytes after this field (crc .. end of value)
//   u32  crc32            zlib CRC-32 of every byte after this field
//   u64  seq              record sequence number; contiguous across segments (+1 per record)
//   u64  timestamp        epoch milliseconds (the gateway receive time)
//   u8   modes            how the three shared parts follow: bits 0–1 topic, 2–3 headers,
//                         4–5 origin; each 0 = reference, 1 = definition, 2 = literal, 3 = none;
//                         bit 6: an expiry follows
//   varint expiry         only with bit 6: the MQTT 5 message expiry, milliseconds after
//                         `timestamp` (records without one, most of them, carry nothing)
//   topic, headers, origin, each in its mode:
//     reference           varint id of an entry defined earlier in the same segment
//     definition          varint id (the next free one of its kind), then the content
//     literal             the content, not remembered (a segment's dictionary is full)
//     none                nothing (origin only: a record weir made itself)
//   u16  keyLength (0xffff = no key), key
//   value                 the rest of the frame: the Avro-encoded record
//
// Contents: topic = u16 length, UTF-8 (the Kafka topic); headers = u16 count (0xffff: a u32
// count follows), then per header u16 nameLength, name (UTF-8), u32 valueLength, value — a name
// with several values (repeated MQTT 5 user properties) comes once per value, in order; origin =
// u8 qos, u16 clientIdLength, clientId (UTF-8), u16 routeLength (0xffff = no route), route
// (UTF-8). The origin is not sent to Kafka: it is what a dead letter of the record must say.
//
// Records of one device topic share their topic, headers and origin, so after the first record
// of a device in a segment, each of its frames carries only seq, time, a few reference bytes,
// key and value. A segment's dictionary is rebuilt by reading it from the start, which is how
// segments are always read; every frame is still checked by its own CRC. A segment defines the
// first DEFINE_AT_ONCE headers objects it meets (a fleet's device topics); past those, a headers
// object is defined only when the segment meets it a second time. Headers met only once (MQTT 5
// messages with properties of their own, such as a trace id) are then written literally, so they
// cannot fill the dictionary or keep more than a bounded number of headers in memory.
//
// Format 2 (weir before message expiry; still read): the same without bit 6 of the modes, and
// a header count of 0xffff is just that.
// Format 1 (weir before the dictionary; still read): seq, timestamp, u16 topicLength, topic,
// u16 keyLength, key, the headers block, u32 valueLength, value.
import { crc32 } from 'node:zlib';
import type { OutboundRecord, RecordHeaders, RecordOrigin } from '../../contracts.ts';

export const SEGMENT_MAGIC = Buffer.from('WEIRSPL\0', 'latin1');
/** The format new segments are written in. Formats 1 and 2 are still read. */
export const FORMAT_VERSION = 3;
const OLDEST_FORMAT = 1;
export const SEGMENT_HEADER_BYTES = 16;
/** frameLength + crc. */
export const FRAME_PREFIX_BYTES = 8;
const NO_KEY = 0xffff;
const NO_ROUTE = 0xffff;
const MIN_BODY_V1 = 8 + 8 + 2 + 2 + 2 + 4;
/** seq, timestamp, modes, three one-byte references, key length. */
const MIN_BODY = 8 + 8 + 1 + 3 + 2;
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Entries of each kind one segment's dictionary takes; past it, parts are written literally. */
export const MAX_DICTIONARY_ENTRIES = 65_536;
/** Headers objects a segment defines the first time it meets them; later ones, the second time. */
export const DEFINE_AT_ONCE = 4_096;

const REF = 0;
const DEFINE = 1;
const LITERAL = 2;
const NONE = 3;
/** modes bit 6: an expiry follows the modes byte. */
const HAS_EXPIRY = 0x40;
/** Upper bound of a varint id below 2^35. */
const MAX_VARINT = 5;
/** Upper bound of a varint expiry below 2^49 ms (MQTT's longest expiry is 2^32 s). */
const MAX_VARINT_EXPIRY = 7;
/** A header count this large is followed by the real one as a u32 (format 3). */
const MANY_HEADERS = 0xffff;

export interface SpooledRecord {
  readonly seq: number;
  readonly topic: string;
  readonly record: OutboundRecord;
}

/** What the frames of one segment defined, by id: filled by whoever reads or writes it first. */
export interface SegmentDictionary {
  readonly topics: string[];
  readonly headers: RecordHeaders[];
  readonly origins: RecordOrigin[];
}

export function emptyDictionary(): SegmentDictionary {
  return { topics: [], headers: [], origins: [] };
}

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

/** The first sequence number encoded in a segment file name, or null for other files. */
export function parseSegmentName(name: string): number | null {
  const m = /^(\d{20})\.seg$/.exec(name);
  return m === null ? null : Number(m[1]);
}

export function segmentHeader(): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt32LE(FORMAT_VERSION, 8);
  return b;
}

/** null when the header is valid, else what is wrong with it. */
export function checkSegmentHeader(b: Buffer): string | null {
  if (b.length < SEGMENT_HEADER_BYTES) return 'segment header is incomplete';
  if (!b.subarray(0, 8).equals(SEGMENT_MAGIC)) return 'not a weir spool segment (bad magic)';
  const v = b.readUInt32LE(8);
  if (v < OLDEST_FORMAT || v > FORMAT_VERSION) return `unsupported spool format version ${v}`;
  return null;
}

/** The format version of a segment whose header checkSegmentHeader accepted. */
export function segmentFormat(header: Buffer): number {
  return header.readUInt32LE(8);
}

/**
 * Upper bound of a record's frame: what it takes when its topic, headers and origin are written
 * out in full. What the appender counts before the frame is encoded; the frame may be smaller.
 */
export function frameSize(topic: string, record: OutboundRecord): number {
  return (
    FRAME_PREFIX_BYTES +
    MIN_BODY +
    3 * (MAX_VARINT - 1) +
    (record.expiresAt === undefined ? 0 : MAX_VARINT_EXPIRY) +
    topicBlock(topic).length +
    headerBlock(record.headers).length +
    (record.origin === undefined ? 0 : originBlock(record.origin).length) +
    (record.key?.length ?? 0) +
    record.value.length
  );
}

/**
 * Writes the frames of one segment: remembers which topics, headers and origins it has defined
 * (by object identity: records of a device topic share theirs) and refers to them after that.
 * One per segment, made when the writer starts appending to it.
 */
export class SegmentEncoder {
  readonly #dict: SegmentDictionary;
  readonly #topicIds = new Map<string, number>();
  readonly #headerIds = new WeakMap<object, number>();
  /** Headers objects written literally once (past DEFINE_AT_ONCE); met again, they are defined. */
  readonly #headersSeenOnce = new WeakSet<object>();
  readonly #originIds = new WeakMap<object, number>();

  /** `dict`: the segment's dictionary; ids this encoder defines continue after its entries. */
  constructor(dict: SegmentDictionary) {
    this.#dict = dict;
  }

  /**
   * Encodes consecutive records (seq, seq + 1, …) into one buffer, for one write. `maxBytes`:
   * the sum of their frameSize. Returns the frames and each one's size.
   */
  encode(
    firstSeq: number,
    records: ReadonlyArray<{ readonly topic: string; readonly record: OutboundRecord }>,
    maxBytes: number,
  ): { frames: Buffer; sizes: number[] } {
    const out = Buffer.allocUnsafe(maxBytes);
    const sizes: number[] = new Array(records.length);
    let at = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const end = this.#writeFrame(out, at, firstSeq + i, r.topic, r.record);
      sizes[i] = end - at;
      at = end;
    }
    return { frames: out.subarray(0, at), sizes };
  }

  #writeFrame(frame: Buffer, at: number, seq: number, topic: string, record: OutboundRecord): number {
    const d = this.#dict;
    const start = at + FRAME_PREFIX_BYTES;
    let p = writeU64(frame, seq, start);
    p = writeU64(frame, record.timestamp, p);
    const modesAt = p++;
    let modes = 0;
    if (record.expiresAt !== undefined) {
      modes = HAS_EXPIRY;
      p = writeVarint(frame, Math.max(0, record.expiresAt - record.timestamp), p);
    }

    let id = this.#topicIds.get(topic);
    let mode = this.#choose(id, d.topics.length);
    if (mode === DEFINE) {
      id = d.topics.length;
      d.topics.push(topic);
      this.#topicIds.set(topic, id);
    }
    p = writePart(frame, p, mode, id, topicBlock(topic));
    modes |= mode;

    const headers = record.headers;
    id = this.#headerIds.get(headers);
    mode = this.#choose(id, d.headers.length);
    if (mode === DEFINE && d.headers.length >= DEFINE_AT_ONCE && !this.#headersSeenOnce.has(headers)) {
      this.#headersSeenOnce.add(headers);
      mode = LITERAL;
    } else if (mode === DEFINE) {
      id = d.headers.length;
      d.headers.push(headers);
      this.#headerIds.set(headers, id);
    }
    p = writePart(frame, p, mode, id, headerBlock(headers));
    modes |= mode << 2;

    const origin = record.origin;
    if (origin === undefined) {
      mode = NONE;
    } else {
      id = this.#originIds.get(origin);
      mode = this.#choose(id, d.origins.length);
      if (mode === DEFINE) {
        id = d.origins.length;
        d.origins.push(origin);
        this.#originIds.set(origin, id);
      }
      p = writePart(frame, p, mode, id, originBlock(origin));
    }
    modes |= mode << 4;
    frame[modesAt] = modes;

    const key = record.key;
    if (key === null) {
      p = frame.writeUInt16LE(NO_KEY, p);
    } else {
      p = frame.writeUInt16LE(key.length, p);
      p += key.copy(frame, p);
    }
    p += record.value.copy(frame, p);
    frame.writeUInt32LE(p - start, at);
    frame.writeUInt32LE(crc32(frame.subarray(start, p)), at + 4);
    return p;
  }

  #choose(id: number | undefined, defined: number): number {
    if (id !== undefined) return REF;
    return defined < MAX_DICTIONARY_ENTRIES ? DEFINE : LITERAL;
  }
}

/**
 * Encodes one record as a standalone frame (a segment's first, or `format` 1: the frame of an
 * older weir, for tests of reading the spools it left).
 */
export function encodeFrame(
  seq: number,
  topic: string,
  record: OutboundRecord,
  format = FORMAT_VERSION,
): Buffer {
  if (format === 1) return encodeFrameV1(seq, topic, record);
  return new SegmentEncoder(emptyDictionary()).encode(seq, [{ topic, record }], frameSize(topic, record))
    .frames;
}

function writePart(frame: Buffer, at: number, mode: number, id: number | undefined, content: Buffer): number {
  let p = at;
  if (mode === REF || mode === DEFINE) p = writeVarint(frame, id!, p);
  if (mode === DEFINE || mode === LITERAL) p += content.copy(frame, p);
  return p;
}

// Blocks shared by many records (a device topic's headers object, its origin, the few Kafka
// topics) are encoded once and kept.
const headerBlocks = new WeakMap<object, Buffer>();
const originBlocks = new WeakMap<RecordOrigin, Buffer>();
const topicBlocks = new Map<string, Buffer>();

/**
 * u16 headerCount (0xffff: u32 headerCount follows), then per header: u16 nameLength, name,
 * u32 valueLength, value. A name with several values is written once per value.
 */
function headerBlock(headers: RecordHeaders): Buffer {
  let block = headerBlocks.get(headers);
  if (block !== undefined) return block;
  let count = 0;
  let size = 0;
  for (const name in headers) {
    const nameBytes = 2 + Buffer.byteLength(name);
    for (const value of valuesOf(headers[name]!)) {
      count++;
      size += nameBytes + 4 + value.length;
    }
  }
  size += count < MANY_HEADERS ? 2 : 6;
  block = Buffer.allocUnsafe(size);
  let p = 0;
  if (count < MANY_HEADERS) {
    p = block.writeUInt16LE(count, p);
  } else {
    p = block.writeUInt16LE(MANY_HEADERS, p);
    p = block.writeUInt32LE(count, p);
  }
  for (const name in headers) {
    for (const value of valuesOf(headers[name]!)) {
      p = block.writeUInt16LE(Buffer.byteLength(name), p);
      p += block.write(name, p);
      p = block.writeUInt32LE(value.length, p);
      p += value.copy(block, p);
    }
  }
  headerBlocks.set(headers, block);
  return block;
}

function valuesOf(value: Buffer | readonly Buffer[]): readonly Buffer[] {
  return Buffer.isBuffer(value) ? [value] : value;
}

/** u8 qos, u16 clientIdLength, clientId, u16 routeLength, route. */
function originBlock(origin: RecordOrigin): Buffer {
  let block = originBlocks.get(origin);
  if (block !== undefined) return block;
  const clientId = Buffer.from(origin.clientId);
  const route = origin.route === null ? null : Buffer.from(origin.route);
  block = Buffer.allocUnsafe(1 + 2 + clientId.length + 2 + (route?.length ?? 0));
  let p = block.writeUInt8(origin.qos, 0);
  p = block.writeUInt16LE(clientId.length, p);
  p += clientId.copy(block, p);
  p = block.writeUInt16LE(route === null ? NO_ROUTE : route.length, p);
  if (route !== null) route.copy(block, p);
  originBlocks.set(origin, block);
  return block;
}

/** u16 length, UTF-8. */
function topicBlock(topic: string): Buffer {
  let block = topicBlocks.get(topic);
  if (block === undefined) {
    const bytes = Buffer.from(topic);
    block = Buffer.allocUnsafe(2 + bytes.length);
    block.writeUInt16LE(bytes.length, 0);
    bytes.copy(block, 2);
    if (topicBlocks.size < 1024) topicBlocks.set(topic, block);
  }
  return block;
}

export type DecodeOutcome =
  /** A whole, valid frame: the record and the frame's total size. */
  | { readonly kind: 'record'; readonly value: SpooledRecord; readonly bytes: number }
  /** The buffer ends inside the frame: read more (or, at the end of a file, a torn tail). */
  | { readonly kind: 'incomplete'; readonly needBytes: number }
  /** Not a valid frame. */
  | { readonly kind: 'corrupt'; readonly reason: string };

/**
 * Decodes the frame at `at` of a segment in format `format`, whose frames before it were decoded
 * into `dict` (definitions in this frame are added to it). The record's key and value are views
 * into `buf`. `expectedSeq`, when given, must match: a frame with a valid CRC but the wrong
 * sequence number is treated as corrupt.
 */
export function decodeFrame(
  buf: Buffer,
  at: number,
  expectedSeq?: number,
  format = FORMAT_VERSION,
  dict: SegmentDictionary = emptyDictionary(),
): DecodeOutcome {
  const available = buf.length - at;
  if (available < FRAME_PREFIX_BYTES) return { kind: 'incomplete', needBytes: FRAME_PREFIX_BYTES };
  const body = buf.readUInt32LE(at);
  if (body < (format === 1 ? MIN_BODY_V1 : MIN_BODY) || body > MAX_FRAME_BYTES)
    return { kind: 'corrupt', reason: `impossible frame length ${body}` };
  const total = FRAME_PREFIX_BYTES + body;
  if (available < total) return { kind: 'incomplete', needBytes: total };
  const start = at + FRAME_PREFIX_BYTES;
  const end = at + total;
  if (crc32(buf.subarray(start, end)) !== buf.readUInt32LE(at + 4))
    return { kind: 'corrupt', reason: 'CRC mismatch' };
  try {
    const seq = readU64(buf, start);
    if (expectedSeq !== undefined && seq !== expectedSeq) {
      return { kind: 'corrupt', reason: `sequence ${seq} where ${expectedSeq} was expected` };
    }
    const timestamp = readU64(buf, start + 8);
    const frame = buf.subarray(0, end); // no read runs past the frame
    const r =
      format === 1 ? readBodyV1(frame, start + 16, end) : readBody(frame, start + 16, end, dict, format);
    if (typeof r === 'string') return { kind: 'corrupt', reason: r };
    let record: OutboundRecord =
      r.origin === undefined
        ? { key: r.key, value: r.value, headers: r.headers, timestamp }
        : { key: r.key, value: r.value, headers: r.headers, timestamp, origin: r.origin };
    if (r.expiresIn !== undefined) record = { ...record, expiresAt: timestamp + r.expiresIn };
    return { kind: 'record', value: { seq, topic: r.topic, record }, bytes: total };
  } catch (err) {
    return {
      kind: 'corrupt',
      reason: err instanceof Corrupt ? err.message : 'field lengths run past the frame',
    };
  }
}

/** What is wrong with a frame whose CRC holds (a bug or a foreign writer, not a torn write). */
class Corrupt extends Error {}

interface Body {
  topic: string;
  headers: RecordHeaders;
  /** Milliseconds from the timestamp to the message expiry; undefined: none. */
  expiresIn?: number;
  origin: RecordOrigin | undefined;
  key: Buffer | null;
  value: Buffer;
}

/**
 * The body after seq and timestamp (formats 2 and 3), or what is wrong with it. The frame's
 * definitions enter the dictionary only once the whole frame has been read without fault.
 */
function readBody(
  buf: Buffer,
  from: number,
  end: number,
  dict: SegmentDictionary,
  format: number,
): Body | string {
  const frame = buf;
  const cursor = { p: from + 1 };
  const modes = frame[from]!;
  const expiresIn =
    format >= 3 && (modes & HAS_EXPIRY) !== 0 ? readVarint(frame, cursor, MAX_VARINT_EXPIRY) : undefined;
  const topic = readPart(frame, cursor, modes & 3, dict.topics, readTopic);
  if (typeof topic !== 'object') return topic ?? 'a record without a topic';
  const readHeadersOf = format >= 3 ? readHeaders : readHeadersV2;
  const headers = readPart(frame, cursor, (modes >> 2) & 3, dict.headers, readHeadersOf);
  if (typeof headers !== 'object') return headers ?? 'a record without headers';
  const origin = readPart(frame, cursor, (modes >> 4) & 3, dict.origins, readOrigin);
  if (typeof origin === 'string') return origin;
  let p = cursor.p;
  const keyLength = frame.readUInt16LE(p);
  p += 2;
  let key: Buffer | null = null;
  if (keyLength !== NO_KEY) {
    if (p + keyLength > end) return 'field lengths do not add up to the frame length';
    key = frame.subarray(p, p + keyLength);
    p += keyLength;
  }
  if (topic.id >= 0) dict.topics[topic.id] = topic.v;
  if (headers.id >= 0) dict.headers[headers.id] = headers.v;
  if (origin !== undefined && origin.id >= 0) dict.origins[origin.id] = origin.v;
  const body: Body = {
    topic: topic.v,
    headers: headers.v,
    origin: origin?.v,
    key,
    value: frame.subarray(p, end),
  };
  if (expiresIn !== undefined) body.expiresIn = expiresIn;
  return body;
}

/**
 * One shared part in its mode: its value, and the id it defines (−1: none). undefined for `none`;
 * a string says what is wrong.
 */
function readPart<T>(
  buf: Buffer,
  cursor: { p: number },
  mode: number,
  entries: readonly T[],
  read: (buf: Buffer, cursor: { p: number }) => T,
): { v: T; id: number } | undefined | string {
  if (mode === NONE) return undefined;
  let id = -1;
  if (mode === REF || mode === DEFINE) {
    id = readVarint(buf, cursor);
    if (mode === REF) {
      if (id >= entries.length) return `reference to entry ${id}, not defined earlier in the segment`;
      return { v: entries[id]!, id: -1 };
    }
    if (id > entries.length) return `definition of entry ${id} skips entries`;
  }
  return { v: read(buf, cursor), id };
}

function readTopic(buf: Buffer, cursor: { p: number }): string {
  const length = buf.readUInt16LE(cursor.p);
  if (cursor.p + 2 + length > buf.length) throw new RangeError('topic past the frame');
  const topic = buf.toString('utf8', cursor.p + 2, cursor.p + 2 + length);
  cursor.p += 2 + length;
  return topic;
}

/** A headers block (format 3): a count of 0xffff is followed by the real count. */
function readHeaders(buf: Buffer, cursor: { p: number }): RecordHeaders {
  let count = buf.readUInt16LE(cursor.p);
  cursor.p += 2;
  if (count === MANY_HEADERS) {
    count = buf.readUInt32LE(cursor.p);
    cursor.p += 4;
  }
  return readHeaderPairs(buf, cursor, count);
}

/** A headers block of formats 1 and 2: a u16 count and nothing else. */
function readHeadersV2(buf: Buffer, cursor: { p: number }): RecordHeaders {
  const count = buf.readUInt16LE(cursor.p);
  cursor.p += 2;
  return readHeaderPairs(buf, cursor, count);
}

/** `count` headers; a name that comes again gets all its values, in order. */
function readHeaderPairs(buf: Buffer, cursor: { p: number }, count: number): RecordHeaders {
  let p = cursor.p;
  // No prototype: a header named `__proto__` is a header like any other.
  const headers: Record<string, Buffer | Buffer[]> = Object.create(null);
  for (let i = 0; i < count; i++) {
    const nameLength = buf.readUInt16LE(p);
    p += 2;
    if (p + nameLength > buf.length) throw new RangeError('header name past the frame');
    const name = buf.toString('utf8', p, p + nameLength);
    p += nameLength;
    const valueLength = buf.readUInt32LE(p);
    p += 4;
    if (p + valueLength > buf.length) throw new RangeError('header value past the frame');
    // A copy: the dictionary keeps it while the read buffer is let go.
    const value = Buffer.from(buf.subarray(p, p + valueLength));
    p += valueLength;
    const before = headers[name];
    if (before === undefined) headers[name] = value;
    else if (Buffer.isBuffer(before)) headers[name] = [before, value];
    else before.push(value);
  }
  cursor.p = p;
  return headers;
}

function readOrigin(buf: Buffer, cursor: { p: number }): RecordOrigin {
  let p = cursor.p;
  const qos = buf.readUInt8(p);
  const clientIdLength = buf.readUInt16LE(p + 1);
  p += 3;
  if (p + clientIdLength > buf.length) throw new RangeError('client id past the frame');
  const clientId = buf.toString('utf8', p, p + clientIdLength);
  p += clientIdLength;
  const routeLength = buf.readUInt16LE(p);
  p += 2;
  let route: string | null = null;
  if (routeLength !== NO_ROUTE) {
    if (p + routeLength > buf.length) throw new RangeError('route past the frame');
    route = buf.toString('utf8', p, p + routeLength);
    p += routeLength;
  }
  cursor.p = p;
  if (qos > 2) throw new Corrupt(`impossible QoS ${qos}`);
  return { clientId, qos: qos as 0 | 1 | 2, route };
}

/** The body after seq and timestamp in format 1. */
function readBodyV1(buf: Buffer, from: number, end: number): Body | string {
  let p = from;
  const topicLength = buf.readUInt16LE(p);
  p += 2;
  const topic = buf.toString('utf8', p, p + topicLength);
  p += topicLength;
  const keyLength = buf.readUInt16LE(p);
  p += 2;
  let key: Buffer | null = null;
  if (keyLength !== NO_KEY) {
    key = buf.subarray(p, p + keyLength);
    p += keyLength;
  }
  const cursor = { p };
  const headers = readHeadersV2(buf, cursor);
  p = cursor.p;
  const valueLength = buf.readUInt32LE(p);
  p += 4;
  if (p + valueLength !== end) return 'field lengths do not add up to the frame length';
  return { topic, headers, origin: undefined, key, value: buf.subarray(p, end) };
}

/** Format 1's frame, for tests of reading spools an older weir left. */
function encodeFrameV1(seq: number, topic: string, record: OutboundRecord): Buffer {
  const tb = topicBlock(topic);
  const hb = headerBlock(record.headers);
  const key = record.key;
  const body = 16 + tb.length + 2 + (key?.length ?? 0) + hb.length + 4 + record.value.length;
  const frame = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + body);
  frame.writeUInt32LE(body, 0);
  let p = writeU64(frame, seq, FRAME_PREFIX_BYTES);
  p = writeU64(frame, record.timestamp, p);
  p += tb.copy(frame, p);
  if (key === null) {
    p = frame.writeUInt16LE(NO_KEY, p);
  } else {
    p = frame.writeUInt16LE(key.length, p);
    p += key.copy(frame, p);
  }
  p += hb.copy(frame, p);
  p = frame.writeUInt32LE(record.value.length, p);
  record.value.copy(frame, p);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_PREFIX_BYTES)), 4);
  return frame;
}

function writeVarint(b: Buffer, n: number, at: number): number {
  let v = n;
  let p = at;
  while (v >= 0x80) {
    b[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  b[p++] = v;
  return p;
}

function readVarint(b: Buffer, cursor: { p: number }, maxBytes = MAX_VARINT): number {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    const byte = b[cursor.p++];
    if (byte === undefined) throw new RangeError('varint past the frame');
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) return n;
    scale *= 128;
  }
  throw new RangeError('varint too long');
}

function writeU64(b: Buffer, n: number, at: number): number {
  b.writeUInt32LE(n % 0x1_0000_0000, at);
  b.writeUInt32LE(Math.floor(n / 0x1_0000_0000), at + 4);
  return at + 8;
}

function readU64(b: Buffer, at: number): number {
  const lo = b.readUInt32LE(at);
  const hi = b.readUInt32LE(at + 4);
  if (hi >= 0x20_0000) throw new RangeError('u64 beyond 2^53');
  return hi * 0x1_0000_0000 + lo;
}
