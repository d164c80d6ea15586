// Decoder + encoder: a JSON payload becomes an Avro-encoded record of the route's schema.
// Named topic segments and the gateway's receive time fill their fields; avsc validates.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { WeirError } from '../errors.ts';

export interface LoadedSchema {
  readonly path: string;
  readonly type: avro.Type;
  readonly fieldNames: ReadonlySet<string>;
  /** SHA-256 of the schema's canonical form, hex: sent as a Kafka header. */
  readonly fingerprint: string;
}

/** Reads and parses an .avsc file. Throws WEIR_SCHEMA_INVALID with the reason. */
export function loadSchema(path: string): LoadedSchema {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new WeirError('WEIR_SCHEMA_INVALID', `cannot read schema file ${path}`, { cause });
  }
  let type: avro.Type;
  try {
    // A fresh options object per call: avsc 5 remembers named types in it.
    type = avro.Type.forSchema(JSON.parse(text), { wrapUnions: 'auto' });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new WeirError('WEIR_SCHEMA_INVALID', `schema file ${path} is not a valid Avro schema: ${why}`, {
      cause,
    });
  }
  if (!(type instanceof avro.types.RecordType)) {
    throw new WeirError('WEIR_SCHEMA_INVALID', `schema file ${path} must define a record type`);
  }
  const fieldNames = new Set(type.fields.map((f) => f.name));
  return { path, type, fieldNames, fingerprint: type.fingerprint('sha256').toString('hex') };
}

export type DecodeResult =
  | { readonly ok: true; readonly value: Buffer }
  | { readonly ok: false; readonly reason: 'invalid_json' | 'schema_mismatch'; readonly detail: string };

export interface DecoderOptions {
  readonly schema: LoadedSchema;
  /** Named segments of the route's topic pattern. */
  readonly segmentNames: readonly string[];
  /** The segment that identifies the device: it also fills a `deviceId` field. */
  readonly keySegment: string;
}

/**
 * Turns payloads of one route into Avro. Topic segments win over payload fields of the same
 * name (a device cannot claim another identity in its payload). Payload fields the schema does
 * not declare are ignored, so devices may send more than the schema keeps.
 */
export class RecordDecoder {
  readonly #type: avro.Type;
  /** [field name, segment name] pairs filled from the topic. */
  readonly #fromTopic: ReadonlyArray<readonly [string, string]>;
  readonly #setsReceivedAt: boolean;

  constructor(opts: DecoderOptions) {
    const { schema, segmentNames, keySegment } = opts;
    this.#type = schema.type;
    const pairs: Array<readonly [string, string]> = [];
    for (const name of segmentNames) if (schema.fieldNames.has(name)) pairs.push([name, name]);
    if (schema.fieldNames.has('deviceId') && !segmentNames.includes('deviceId')) {
      pairs.push(['deviceId', keySegment]);
    }
    this.#fromTopic = pairs;
    this.#setsReceivedAt = schema.fieldNames.has('receivedAt');
  }

  decode(payload: Buffer, segments: Readonly<Record<string, string>>, receivedAt: number): DecodeResult {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { ok: false, reason: 'invalid_json', detail: (err as Error).message };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      const got = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed;
      return { ok: false, reason: 'schema_mismatch', detail: `payload must be a JSON object, got ${got}` };
    }
    const record = parsed as Record<string, unknown>;
    for (const [field, segment] of this.#fromTopic) record[field] = segments[segment];
    if (this.#setsReceivedAt) record['receivedAt'] = receivedAt;
    try {
      return { ok: true, value: encodeIntoSlab(this.#type, record) };
    } catch {
      return { ok: false, reason: 'schema_mismatch', detail: describeInvalid(this.#type, record) };
    }
  }
}

// Encoded values are cut from shared slabs rather than allocated one by one (avsc's toBuffer
// zero-fills a new buffer per record and copies into it). A slab lives as long as any value cut
// from it: records are delivered within seconds, or read back from the spool after a restart.
const SLAB_BYTES = 64 * 1024;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

/** Avro-encodes `value` into the current slab (a new one when it is full). Throws when invalid. */
export function encodeIntoSlab(type: avro.Type, value: unknown): Buffer {
  let end = type.encode(value, slab, slabUsed);
  if (end < 0) {
    // Too little room left (−end bytes missing): a fresh slab, large enough for this value.
    slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, slab.length - slabUsed - end));
    slabUsed = 0;
    end = type.encode(value, slab, 0);
  }
  const out = slab.subarray(slabUsed, end);
  slabUsed = end;
  return out;
}

/** Names every field that does not fit, e.g. `speedKmh: expected double, got "fast"`. */
export function describeInvalid(type: avro.Type, value: unknown): string {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook(path: string[], got: unknown, expected: avro.Type) {
      if (problems.length >= 5) return;
      const where = path.length > 0 ? path.join('.') : '(record)';
      const shown =
        got === undefined ? 'nothing (missing)' : truncate(JSON.stringify(got) ?? String(got), 60);
      problems.push(`${where}: expected ${typeName(expected)}, got ${shown}`);
    },
  });
  return problems.length > 0 ? problems.join('; ') : 'value does not fit the schema';
}

function typeName(type: avro.Type): string {
  if (type.typeName.startsWith('union')) {
    return (type as unknown as { types: avro.Type[] }).types.map(typeName).join(' or ');
  }
  if (type instanceof avro.types.EnumType) return `one of ${type.symbols.join('|')}`;
  return type.typeName;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
