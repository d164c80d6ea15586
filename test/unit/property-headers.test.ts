// MQTT 5 user properties and content type as Kafka headers (gateway/intake/property-headers.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordHeaders } from '../../gateway/contracts.ts';
import { PropertyHeaders, SETS_IN_ALL, withProperties } from '../../gateway/intake/property-headers.ts';

const shared: RecordHeaders = {
  'weir-gateway-id': Buffer.from('gw'),
  'avro-schema-fingerprint': Buffer.from('ab12'),
  'mqtt-topic': Buffer.from('city/a/t/dev-1'),
};

function text(headers: RecordHeaders): Array<[string, string[]]> {
  return Object.keys(headers).map((name) => {
    const v = headers[name]!;
    return [name, (Buffer.isBuffer(v) ? [v] : v).map((b) => b.toString())];
  });
}

describe('MQTT 5 properties as Kafka headers', () => {
  test("each user property under its name, every value of a repeated one, the content type; weir's headers stay weir's", () => {
    const userProperties = Object.assign(Object.create(null), {
      unit: 'celsius',
      tag: ['a', 'b'],
      'mqtt-topic': 'forged/topic',
      'content-type': 'text/forged',
      'user-property-mqtt-topic': 'own',
    });
    const headers = withProperties(shared, userProperties, 'application/json');
    assert.deepEqual(text(headers), [
      ['weir-gateway-id', ['gw']],
      ['avro-schema-fingerprint', ['ab12']],
      ['mqtt-topic', ['city/a/t/dev-1']],
      ['content-type', ['application/json']],
      ['unit', ['celsius']],
      ['tag', ['a', 'b']],
      ['user-property-mqtt-topic', ['forged/topic', 'own']],
      ['user-property-content-type', ['text/forged']],
    ]);
  });

  test('a repeated property set gets the same headers object; a new one a new object', () => {
    const budget = { left: SETS_IN_ALL };
    const topic = new PropertyHeaders(shared, budget);
    const a = topic.get({ unit: 'celsius' }, undefined);
    assert.equal(topic.get({ unit: 'celsius' }, undefined), a);
    assert.notEqual(topic.get({ unit: 'kelvin' }, undefined), a);
    assert.notEqual(topic.get({ unit: 'celsius' }, 'text/plain'), a);
    assert.equal(budget.left, SETS_IN_ALL - 3);
  });

  test('sets that never repeat (a trace id each) stay bounded: per topic and in all', () => {
    const budget = { left: 6 };
    const first = new PropertyHeaders(shared, budget);
    for (let i = 0; i < 1000; i++) first.get({ trace: `t-${i}` }, undefined);
    assert.equal(budget.left, 2, 'a topic remembers its last four sets');
    const second = new PropertyHeaders(shared, budget);
    for (let i = 0; i < 10; i++) second.get({ trace: `t-${i}` }, undefined);
    assert.equal(budget.left, 0);
    const third = new PropertyHeaders(shared, budget);
    const x = third.get({ unit: 'celsius' }, undefined);
    assert.notEqual(third.get({ unit: 'celsius' }, undefined), x, 'past the budget, nothing is remembered');
    assert.deepEqual(text(third.get({ unit: 'celsius' }, undefined)), text(x));
  });
});
