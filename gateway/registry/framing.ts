// The Confluent wire format of a record value: magic byte 0, the schema id as a 4-byte big-endian
// integer, then the Avro binary body — what Confluent's (and Apicurio's Confluent-compatible)
// deserializers expect when a Schema Registry is in use. The id is the registry's id of the
// writer's schema; readers fetch that schema by id to decode the body.
//
//   offset 0   1 byte    0x00 (magic byte)
//   offset 1   4 bytes   schema id, unsigned in practice, 1 … 2^31−1 (Java reads it as an int)
//   offset 5   …         Avro binary body (no container-file header)
import { WeirError } from '../errors.ts';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;
export const MAX_SCHEMA_ID = 0x7fff_ffff;

export function isSchemaId(id: unknown): id is number {
  return Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) <= MAX_SCHEMA_ID;
}

/** The 5-byte header for `schemaId`. */
export function frameHeader(schemaId: number): Buffer {
  checkId(schemaId);
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = MAGIC_BYTE;
  header.writeUInt32BE(schemaId, 1);
  return header;
}

/** Header + body in one new buffer: the Kafka record value. */
export function encodeFramed(schemaId: number, body: Uint8Array): Buffer {
  checkId(schemaId);
  const value = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  value[0] = MAGIC_BYTE;
  value.writeUInt32BE(schemaId, 1);
  value.set(body, HEADER_BYTES);
  return value;
}

/**
 * Splits a framed value into its schema id and Avro body (a view, not a copy). Throws
 * WEIR_REGISTRY_FRAME_INVALID when the value is too short or does not start with the magic byte.
 */
export function decodeFramed(value: Uint8Array): { schemaId: number; body: Buffer } {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buf.length < HEADER_BYTES) {
    throw new WeirError(
      'WEIR_REGISTRY_FRAME_INVALID',
      `a Confluent-framed value has at least ${HEADER_BYTES} bytes, this one ${buf.length}`,
    );
  }
  if (buf[0] !== MAGIC_BYTE) {
    throw new WeirError(
      'WEIR_REGISTRY_FRAME_INVALID',
      `a Confluent-framed value starts with magic byte ${MAGIC_BYTE}, this one with ${buf[0]}`,
    );
  }
  const schemaId = buf.readUInt32BE(1);
  if (schemaId > MAX_SCHEMA_ID) {
    throw new WeirError('WEIR_REGISTRY_FRAME_INVALID', `schema id ${schemaId} is out of range`);
  }
  return { schemaId, body: buf.subarray(HEADER_BYTES) };
}

function checkId(id: number): void {
  if (!isSchemaId(id)) {
    throw new WeirError(
      'WEIR_REGISTRY_FRAME_INVALID',
      `a schema id is an integer from 0 to ${MAX_SCHEMA_ID}, not ${String(id)}`,
    );
  }
}
