import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { WeirError } from '../../gateway/errors.ts';
import { decodeFramed, encodeFramed, frameHeader, MAX_SCHEMA_ID } from '../../gateway/registry/framing.ts';

test('a framed value is magic byte 0, the id big-endian in 4 bytes, then the Avro body unchanged', () => {
  const body = Buffer.from([0x02, 0x61, 0x62, 0xff]);
  const value = encodeFramed(0x01020304, body);
  assert.deepEqual(value, Buffer.from([0, 1, 2, 3, 4, 0x02, 0x61, 0x62, 0xff]));
  assert.deepEqual(frameHeader(0x01020304), value.subarray(0, 5));
  const back = decodeFramed(value);
  assert.equal(back.schemaId, 0x01020304);
  assert.deepEqual(back.body, body);
});

test('a real record of a weir schema survives framing and decodes to the same record', () => {
  const schema = loadSchema(new URL('../../schemas/vehicle-gps.avsc', import.meta.url).pathname);
  const record = schema.type.random();
  const avro = schema.type.toBuffer(record);
  for (const id of [0, 1, 255, 256, 65_536, MAX_SCHEMA_ID]) {
    const { schemaId, body } = decodeFramed(encodeFramed(id, avro));
    assert.equal(schemaId, id);
    assert.deepEqual(schema.type.fromBuffer(body), record);
  }
});

test('decoding refuses what is not a Confluent-framed value, with a stable code', () => {
  const refused = (value: Uint8Array) =>
    assert.throws(
      () => decodeFramed(value),
      (err: unknown) =>
        err instanceof WeirError && err.code === 'WEIR_REGISTRY_FRAME_INVALID' && !err.retriable,
    );
  refused(Buffer.alloc(0));
  refused(Buffer.from([0, 0, 0, 1])); // header cut short
  refused(Buffer.from([1, 0, 0, 0, 1, 2])); // wrong magic byte
  refused(Buffer.from([0, 0x80, 0, 0, 0])); // id beyond a Java int
  // an empty body is a valid frame (a record of no fields encodes to nothing)
  assert.deepEqual(decodeFramed(Buffer.from([0, 0, 0, 0, 9])), { schemaId: 9, body: Buffer.alloc(0) });
  // a Uint8Array view into a larger buffer works as well as a Buffer
  const big = new Uint8Array([7, 7, 0, 0, 0, 0, 5, 42, 7]);
  const view = big.subarray(2, 8);
  assert.deepEqual(decodeFramed(view), { schemaId: 5, body: Buffer.from([42]) });
});

test('ids that do not fit the 4-byte field are refused when encoding', () => {
  for (const id of [-1, MAX_SCHEMA_ID + 1, 1.5, Number.NaN]) {
    assert.throws(() => encodeFramed(id, Buffer.alloc(1)), { code: 'WEIR_REGISTRY_FRAME_INVALID' });
  }
});
