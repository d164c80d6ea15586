import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { avroFullName, subjectName } from '../../gateway/registry/subject.ts';

const schemaFile = (name: string) => new URL(`../../schemas/${name}.avsc`, import.meta.url).pathname;

test("the three strategies name subjects as Confluent's serializers do", () => {
  const full = 'weir.iot.smartcity.SmartCityReading';
  assert.equal(subjectName('TopicName', 'iot.smart-city', full), 'iot.smart-city-value');
  assert.equal(subjectName('RecordName', 'iot.smart-city', full), full);
  assert.equal(subjectName('TopicRecordName', 'iot.smart-city', full), `iot.smart-city-${full}`);
  // RecordName does not depend on the topic: two topics share one subject
  assert.equal(subjectName('RecordName', 'a', full), subjectName('RecordName', 'b', full));
});

test("a schema's full name follows the Avro rules, and matches what avsc computes for weir's schemas", () => {
  assert.equal(avroFullName({ type: 'record', name: 'R', namespace: 'a.b', fields: [] }), 'a.b.R');
  assert.equal(avroFullName({ type: 'record', name: 'x.y.R', namespace: 'ignored', fields: [] }), 'x.y.R');
  assert.equal(avroFullName({ type: 'record', name: 'R', fields: [] }), 'R');
  assert.equal(avroFullName({ type: 'record', name: 'R', namespace: '', fields: [] }), 'R');
  for (const name of ['smart-city', 'factory-line', 'vehicle-gps', 'deadletter']) {
    const json = JSON.parse(readFileSync(schemaFile(name), 'utf8'));
    assert.equal(avroFullName(json), loadSchema(schemaFile(name)).type.name);
  }
});

test('missing parts are refused with a stable code', () => {
  assert.throws(() => subjectName('TopicName', '', 'R'), { code: 'WEIR_REGISTRY_SUBJECT_INVALID' });
  assert.throws(() => subjectName('TopicRecordName', 't', ''), { code: 'WEIR_REGISTRY_SUBJECT_INVALID' });
  assert.equal(subjectName('RecordName', '', 'R'), 'R');
  assert.throws(() => avroFullName('string'), { code: 'WEIR_REGISTRY_SUBJECT_INVALID' });
  assert.throws(() => avroFullName({ type: 'record', fields: [] }), {
    code: 'WEIR_REGISTRY_SUBJECT_INVALID',
  });
});
