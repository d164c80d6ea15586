import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSchema, RecordDecoder } from '../../gateway/codec/avro.ts';

const schemaPath = (name: string) => fileURLToPath(new URL(`../../schemas/${name}.avsc`, import.meta.url));
const vehicle = loadSchema(schemaPath('vehicle-gps'));
const decoder = new RecordDecoder({
  schema: vehicle,
  segmentNames: ['fleetId', 'vehicleId'],
  keySegment: 'vehicleId',
});
const segments = { fleetId: 'buses', vehicleId: 'bus-17' };
const valid = {
  seq: 5,
  ts: 1_763_800_000_000,
  latDeg: 52.52,
  lonDeg: 13.405,
  speedKmh: 31.5,
  headingDeg: 270,
  odometerKm: 81234.2,
  fuelPct: 40,
};
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('decoder', () => {
  test('values encoded one after another (across slabs, with invalid ones between) each decode to their own record', () => {
    const values: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      // Long ids now and then: values of different sizes, one larger than a slab.
      const vehicleId = i === 1500 ? 'v'.repeat(70_000) : `bus-${i}${i % 7 === 0 ? 'x'.repeat(200) : ''}`;
      const r = decoder.decode(json({ ...valid, seq: i }), { fleetId: 'buses', vehicleId }, i);
      assert.ok(r.ok);
      values.push(r.value);
      if (i % 100 === 0)
        assert.equal(decoder.decode(json({ ...valid, speedKmh: 'fast' }), segments, 0).ok, false);
    }
    values.forEach((v, i) => {
      const back = vehicle.type.fromBuffer(v) as { seq: number; deviceId: string; receivedAt: number };
      assert.equal(back.seq, i);
      assert.equal(back.receivedAt, i);
      assert.ok(back.deviceId.startsWith(i === 1500 ? 'vvv' : `bus-${i}`));
    });
  });

  test('valid payload: topic segments and receive time fill their fields', () => {
    const r = decoder.decode(json(valid), segments, 1_763_800_000_123);
    assert.ok(r.ok);
    assert.deepEqual(
      { ...vehicle.type.fromBuffer(r.value) },
      {
        ...valid,
        deviceId: 'bus-17',
        fleetId: 'buses',
        receivedAt: 1_763_800_000_123,
        batteryPct: null,
        ignitionOn: null,
        gpsAccuracyM: null,
        satellites: null,
      },
    );
  });

  test('the topic wins over payload fields naming the device', () => {
    const r = decoder.decode(json({ ...valid, deviceId: 'someone-else', fleetId: 'x' }), segments, 1);
    assert.ok(r.ok);
    const rec = vehicle.type.fromBuffer(r.value);
    assert.equal(rec.deviceId, 'bus-17');
    assert.equal(rec.fleetId, 'buses');
  });

  test('undeclared payload fields are ignored', () => {
    assert.ok(decoder.decode(json({ ...valid, firmware: '1.2.3' }), segments, 1).ok);
  });

  test('invalid JSON', () => {
    const r = decoder.decode(Buffer.from('{"ts": 1,'), segments, 1);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'invalid_json');
  });

  test('not UTF-8 text', () => {
    const r = decoder.decode(Buffer.from([0xff, 0xfe, 0x00, 0x81]), segments, 1);
    assert.equal(!r.ok && r.reason, 'invalid_json');
  });

  test('JSON that is not an object', () => {
    for (const payload of ['[1,2]', '42', 'null', '"text"']) {
      const r = decoder.decode(Buffer.from(payload), segments, 1);
      assert.equal(!r.ok && r.reason, 'schema_mismatch', payload);
    }
  });

  test('wrong type names the field', () => {
    const r = decoder.decode(json({ ...valid, speedKmh: 'fast' }), segments, 1);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'schema_mismatch');
    assert.match(!r.ok ? r.detail : '', /speedKmh: expected double, got "fast"/);
  });

  test('missing required field names the field', () => {
    const { latDeg: _, ...withoutLat } = valid;
    const r = decoder.decode(json(withoutLat), segments, 1);
    assert.match(!r.ok ? r.detail : '', /latDeg: expected double, got nothing \(missing\)/);
  });

  test('a long that is not an integer does not fit', () => {
    const r = decoder.decode(json({ ...valid, seq: 1.5 }), segments, 1);
    assert.equal(!r.ok && r.reason, 'schema_mismatch');
  });

  test('an enum value outside the symbols does not fit', () => {
    const factory = new RecordDecoder({
      schema: loadSchema(schemaPath('factory-line')),
      segmentNames: ['plant', 'line', 'machineId'],
      keySegment: 'machineId',
    });
    const base = { ts: 1, spindleSpeedRpm: 1200, vibrationRmsMmS: 2.1, temperatureC: 41, partCount: 7 };
    const seg = { plant: 'p', line: 'l', machineId: 'm' };
    assert.ok(factory.decode(json({ ...base, state: 'running' }), seg, 1).ok);
    const r = factory.decode(json({ ...base, state: 'exploded' }), seg, 1);
    assert.match(!r.ok ? r.detail : '', /state: expected one of running\|idle\|fault\|maintenance/);
  });
});
