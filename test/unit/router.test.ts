import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePattern, type TopicPattern } from '../../gateway/router/pattern.ts';
import { Router } from '../../gateway/router/router.ts';

function pattern(source: string): TopicPattern {
  const parsed = parsePattern(source);
  if ('problems' in parsed) throw new Error(parsed.problems.join('; '));
  return parsed.pattern;
}

const router = new Router([
  { name: 'city', pattern: pattern('city/{site}/{sensorType}/{deviceId}') },
  { name: 'factory', pattern: pattern('factory/{plant}/{line}/{machineId}/telemetry') },
  { name: 'fleet', pattern: pattern('fleet/{fleetId}/vehicles/{vehicleId}/position') },
  { name: 'any-alarm', pattern: pattern('alarms/+/{deviceId}/#') },
]);

describe('router', () => {
  test('named segments become fields', () => {
    const m = router.match('city/berlin-mitte/air/aq-0042');
    assert.equal(m?.route.name, 'city');
    assert.deepEqual(m?.segments, { site: 'berlin-mitte', sensorType: 'air', deviceId: 'aq-0042' });
  });

  test('literal levels must match exactly', () => {
    assert.equal(router.match('factory/p1/l2/m3/telemetry')?.route.name, 'factory');
    assert.equal(router.match('factory/p1/l2/m3/status'), null);
    assert.deepEqual(router.match('fleet/f1/vehicles/v9/position')?.segments, {
      fleetId: 'f1',
      vehicleId: 'v9',
    });
  });

  test('no match: too few or too many levels, unknown prefix', () => {
    assert.equal(router.match('city/berlin/air'), null);
    assert.equal(router.match('city/berlin/air/aq-1/extra'), null);
    assert.equal(router.match('farm/x/y/z'), null);
    assert.equal(router.match(''), null);
  });

  test('an empty level never fills a named segment', () => {
    assert.equal(router.match('city//air/aq-1'), null);
    assert.equal(router.match('city/berlin/air/'), null);
  });

  test('+ matches one level without capturing, # the rest', () => {
    assert.deepEqual(router.match('alarms/zone1/dev7/fire/level3')?.segments, { deviceId: 'dev7' });
    assert.deepEqual(router.match('alarms/zone1/dev7')?.segments, { deviceId: 'dev7' });
    assert.equal(router.match('alarms/zone1'), null);
  });

  test('first matching route wins', () => {
    const r = new Router([
      { name: 'specific', pattern: pattern('a/special/{id}') },
      { name: 'general', pattern: pattern('a/{kind}/{id}') },
    ]);
    assert.equal(r.match('a/special/1')?.route.name, 'specific');
    assert.equal(r.match('a/other/1')?.route.name, 'general');
  });
});

describe('pattern parsing', () => {
  test('reports every problem', () => {
    const parsed = parsePattern('a/{1x}/b{y}/#/{z}/{z}');
    assert.ok('problems' in parsed);
    assert.equal(parsed.problems.length, 4, parsed.problems.join('\n'));
  });

  test('lists named segments in order', () => {
    assert.deepEqual(pattern('factory/{plant}/{line}/{machineId}/telemetry').names, [
      'plant',
      'line',
      'machineId',
    ]);
  });
});
