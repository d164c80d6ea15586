// On-disk format of the spool. Pure functions, no I/O. The invariants and the way the files are
// used are described in spool.ts.
//
// Segment file `<firstSeq as 20 digits>.seg`:
//   header   16 bytes: magic "WEIRSPL\0" (8) · format version u32 LE (4) · reserved u32 (4)
//   frames   one after another, nothing in between
//
// Frame (all integers little-endian):
//   u32  frameLength      bytes after this field (crc .. end of value)
//   u32  crc32            zlib CRC-32 of every byte after this field
//   u64  seq              record sequence number; contiguous across segments (+1 per record)
//   u64  timestamp        epoch milliseconds (the gateway receive time)
//   origin (format 2 on; not sent to Kafka: what a dead letter of the record must say)
//     u8   qos            the device's MQTT QoS, 0xff = none (a record weir made itself)
//     u16  clientIdLength, clientId (UTF-8)     the publishing MQTT client
//     u16  routeLength (0xffff = no route), route (UTF-8)
//   u16  topicLength, topic (UTF-8)             Kafka topic
//   u16  keyLength (0xffff = no key), key
//   u16  headerCount, then per header: u16 nameLength, name (UTF-8), u32 valueLength, value
//   u32  valueLength, value                     the Avro-encoded record
import { crc32 } from 'node:zlib';
import type { OutboundRecord, RecordOrigin } from '../../contracts.ts';

export const SEGMENT_MAGIC = Buffer.from('WEIRSPL\0', 'latin1');
/** The format new segments are written in. Format 1 (no origin) is still read. */
export const FORMAT_VERSION = 2;
const OLDEST_FORMAT = 1;
export const SEGMENT_HEADER_BYTES = 16;
/** frameLength + crc. */
export const FRAME_PREFIX_BYTES = 8;
const NO_KEY = 0xffff;
const NO_QOS = 0xff;
const NO_ROUTE = 0xffff;
const MIN_BODY_V1 = 8 + 8 + 2 + 2 + 2 + 4;
const MIN_BODY = MIN_BODY_V1 + 5;
/** The body's fixed fields but the header count and the origin (blocks of their own). */
const FIXED_BODY = MIN_BODY_V1 - 2;
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export interface SpooledRecord {
  readonly seq: number;
  readonly topic: string;
  readonly record: OutboundRecord;
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
 * Encodes one record as a frame. `format` 1 writes the old frame (no origin): only for tests of
 * reading spools an older weir left.
 */
export function encodeFrame(
  seq: number,
  topic: string,
  record: OutboundRecord,
  format = FORMAT_VERSION,
): Buffer {
  const size = frameSize(topic, record) - (format === 1 ? originBlock(record.origin).length : 0);
  const frame = Buffer.allocUnsafe(size);
  writeFrame(frame, 0, seq, topic, record, format);
  return frame;
}

/**
 * Encodes consecutive records (seq, seq + 1, …) into one buffer: one allocation and one write
 * for a whole group of `totalBytes` (the sum of their frameSize).
 */
export function encodeFrames(
  firstSeq: number,
  records: ReadonlyArray<{ readonly topic: string; readonly record: OutboundRecord }>,
  totalBytes: number,
): Buffer {
  const out = Buffer.allocUnsafe(totalBytes);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    at = writeFrame(out, at, firstSeq + i, r.topic, r.record);
  }
  if (at !== totalBytes) throw new Error(`spool frames took ${at} bytes, ${totalBytes} expected`);
  return out;
}

/** Size of the frame of a record, without encoding it. */
export function frameSize(topic: string, record: OutboundRecord): number {
  return (
    FRAME_PREFIX_BYTES +
    FIXED_BODY +
    originBlock(record.origin).length +
    topicBytes(topic).length +
    (record.key?.length ?? 0) +
    headerBlock(record.headers).length +
    record.value.length
  );
}

// Records of one device topic share one headers object (the intake makes it once per topic), and
// Kafka topics are few: their encoded bytes are kept rather than encoded for every record.
const headerBlocks = new WeakMap<object, Buffer>();
const topicBlocks = new Map<string, Buffer>();

/** u16 headerCount, then per header: u16 nameLength, name, u32 valueLength, value. */
function headerBlock(headers: Readonly<Record<string, Buffer>>): Buffer {
  let block = headerBlocks.get(headers);
  if (block !== undefined) return block;
  const names = Object.keys(headers);
  let size = 2;
  for (const name of names) size += 2 + Buffer.byteLength(name) + 4 + headers[name]!.length;
  block = Buffer.allocUnsafe(size);
  let p = block.writeUInt16LE(names.length, 0);
  for (const name of names) {
    const value = headers[name]!;
    p = block.writeUInt16LE(Buffer.byteLength(name), p);
    p += block.write(name, p);
    p = block.writeUInt32LE(value.length, p);
    p += value.copy(block, p);
  }
  headerBlocks.set(headers, block);
  return block;
}

const originBlocks = new WeakMap<RecordOrigin, Buffer>();
const NO_ORIGIN = Buffer.from([NO_QOS, 0, 0, 0xff, 0xff]);

/** u8 qos, u16 clientIdLength, clientId, u16 routeLength, route. Shared origins encode once. */
function originBlock(origin: RecordOrigin | undefined): Buffer {
  if (origin === undefined) return NO_ORIGIN;
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

function topicBytes(topic: string): Buffer {
  let bytes = topicBlocks.get(topic);
  if (bytes === undefined) {
    bytes = Buffer.from(topic);
    if (topicBlocks.size < 1024) topicBlocks.set(topic, bytes);
  }
  return bytes;
}

/** Writes the frame of one record at `at`; returns where it ends. */
function writeFrame(
  frame: Buffer,
  at: number,
  seq: number,
  topic: string,
  record: OutboundRecord,
  format = FORMAT_VERSION,
): number {
  const tb = topicBytes(topic);
  const hb = headerBlock(record.headers);
  const ob = format === 1 ? null : originBlock(record.origin);
  const key = record.key;
  const body =
    FIXED_BODY + (ob?.length ?? 0) + tb.length + (key?.length ?? 0) + hb.length + record.value.length;
  let p = at + FRAME_PREFIX_BYTES;
  frame.writeUInt32LE(body, at);
  p = writeU64(frame, seq, p);
  p = writeU64(frame, record.timestamp, p);
  if (ob !== null) p += ob.copy(frame, p);
  p = frame.writeUInt16LE(tb.length, p);
  p += tb.copy(frame, p);
  if (key === null) {
    p = frame.writeUInt16LE(NO_KEY, p);
  } else {
    p = frame.writeUInt16LE(key.length, p);
    p += key.copy(frame, p);
  }
  p += hb.copy(frame, p);
  p = frame.writeUInt32LE(record.value.length, p);
  p += record.value.copy(frame, p);
  frame.writeUInt32LE(crc32(frame.subarray(at + FRAME_PREFIX_BYTES, p)), at + 4);
  return p;
}

export type DecodeOutcome =
  /** A whole, valid frame: the record and the frame's total size. */
  | { readonly kind: 'record'; readonly value: SpooledRecord; readonly bytes: number }
  /** The buffer ends inside the frame: read more (or, at the end of a file, a torn tail). */
  | { readonly kind: 'incomplete'; readonly needBytes: number }
  /** Not a valid frame. */
  | { readonly kind: 'corrupt'; readonly reason: string };

/**
 * Decodes the frame at `at`, of a segment in format `format`. The record's buffers are views
 * into `buf` (no copies). `expectedSeq`, when given, must match: a frame with a valid CRC but
 * the wrong sequence number is treated as corrupt.
 */
export function decodeFrame(
  buf: Buffer,
  at: number,
  expectedSeq?: number,
  format = FORMAT_VERSION,
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
    let p = start;
    const seq = readU64(buf, p);
    p += 8;
    if (expectedSeq !== undefined && seq !== expectedSeq) {
      return { kind: 'corrupt', reason: `sequence ${seq} where ${expectedSeq} was expected` };
    }
    const timestamp = readU64(buf, p);
    p += 8;
    let origin: RecordOrigin | undefined;
    if (format !== 1) {
      const qos = buf.readUInt8(p);
      const clientIdLength = buf.readUInt16LE(p + 1);
      p += 3;
      const clientId = buf.toString('utf8', p, p + clientIdLength);
      p += clientIdLength;
      const routeLength = buf.readUInt16LE(p);
      p += 2;
      let route: string | null = null;
      if (routeLength !== NO_ROUTE) {
        route = buf.toString('utf8', p, p + routeLength);
        p += routeLength;
      }
      if (qos !== NO_QOS) {
        if (qos > 2) return { kind: 'corrupt', reason: `impossible QoS ${qos}` };
        origin = { clientId, qos: qos as 0 | 1 | 2, route };
      }
    }
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
    const headerCount = buf.readUInt16LE(p);
    p += 2;
    const headers: Record<string, Buffer> = {};
    for (let i = 0; i < headerCount; i++) {
      const nameLength = buf.readUInt16LE(p);
      p += 2;
      const name = buf.toString('utf8', p, p + nameLength);
      p += nameLength;
      const valueLength = buf.readUInt32LE(p);
      p += 4;
      headers[name] = buf.subarray(p, p + valueLength);
      p += valueLength;
    }
    const valueLength = buf.readUInt32LE(p);
    p += 4;
    if (p + valueLength !== end)
      return { kind: 'corrupt', reason: 'field lengths do not add up to the frame length' };
    const value = buf.subarray(p, end);
    const record: OutboundRecord =
      origin === undefined ? { key, value, headers, timestamp } : { key, value, headers, timestamp, origin };
    return { kind: 'record', value: { seq, topic, record }, bytes: total };
  } catch {
    return { kind: 'corrupt', reason: 'field lengths run past the frame' };
  }
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
