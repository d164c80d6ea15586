import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile, parseConfig } from '../../gateway/config/load.ts';
import { compileRoutes } from '../../gateway/intake/routes.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const example = path.join(root, 'deploy/weir.example.yaml');
const schemas = path.join(root, 'schemas');

function problemsOf(raw: unknown, overrides = {}): string[] {
  try {
    parseConfig(raw, schemas, overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('config was accepted');
}

const minimal = {
  auth: 'none',
  kafka: { brokers: ['127.0.0.1:9092'] },
  routes: [
    {
      name: 'r',
      mqttTopic: 'fleet/{fleetId}/vehicles/{vehicleId}/position',
      kafkaTopic: 't',
      schema: 'vehicle-gps.avsc',
    },
  ],
};

describe('config', () => {
  test('the documented sample loads, routes the three fleets, and compiles', () => {
    const loaded = loadConfigFile(example);
    const routes = compileRoutes(loaded);
    assert.deepEqual(
      routes.map((r) => [r.pattern.source, r.kafkaTopic, r.keySegment]),
      [
        ['city/{site}/{sensorType}/{deviceId}', 'iot.smart-city.readings', 'deviceId'],
        ['factory/{plant}/{line}/{machineId}/telemetry', 'iot.factory.telemetry', 'machineId'],
        ['fleet/{fleetId}/vehicles/{vehicleId}/position', 'iot.vehicle.positions', 'vehicleId'],
      ],
    );
    assert.equal(loaded.config.mqtt.maxPacketBytes, 256 * 1024);
  });

  test('defaults fill what is omitted', () => {
    const { config } = parseConfig(minimal, schemas);
    assert.equal(config.mqtt.port, 1883);
    assert.equal(config.mqtt.host, '0.0.0.0');
    assert.equal(config.kafka.deadLetterTopic, 'weir.deadletter');
    assert.deepEqual(config.batch, {
      maxRecords: 1000,
      maxBytes: 1048576,
      lingerMs: 10,
      maxBufferedBytes: 67108864,
    });
  });

  test('flags and environment override the file', () => {
    const { config } = parseConfig(minimal, schemas, {
      mqttPort: '2883',
      kafkaBrokers: 'a:1, b:2',
      spoolDir: '/var/spool',
    });
    assert.equal(config.mqtt.port, 2883);
    assert.deepEqual(config.kafka.brokers, ['a:1', 'b:2']);
    assert.equal(config.spool.dir, '/var/spool');
  });

  test('an invalid override is reported like a bad file value', () => {
    assert.deepEqual(problemsOf(minimal, { mqttPort: 'abc' }), [
      'mqtt.port: Invalid input: expected number, received string',
    ]);
  });

  test('every problem is listed with its path, schema and cross-field checks alike', () => {
    const problems = problemsOf({
      auth: 'none',
      mqtt: { port: 70000, typo: 1 },
      kafka: { brokers: ['no-port'], compression: 'lz4' },
      batch: { maxRecords: 0 },
      routes: [
        { name: 'a', mqttTopic: 'x/{id}/{id}', kafkaTopic: 'weir.deadletter', schema: 'missing.avsc' },
        { name: 'a', mqttTopic: 'y/{dev}', kafkaTopic: 'ok', schema: 'vehicle-gps.avsc', key: 'device' },
      ],
    });
    const paths = problems.map((p) => p.split(':')[0]);
    assert.deepEqual(paths.sort(), [
      'batch.maxRecords',
      'kafka.brokers[0]',
      'kafka.compression',
      'mqtt.port',
      'mqtt.typo',
      'routes[0].kafkaTopic',
      'routes[0].mqttTopic',
      'routes[0].schema',
      'routes[1].key',
      'routes[1].name',
    ]);
  });

  test('missing required sections', () => {
    const problems = problemsOf({});
    assert.ok(
      problems.some((p) => p.startsWith('kafka:')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('routes:')),
      problems.join('\n'),
    );
  });

  test('a schema file that is not Avro is reported', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-config-'));
    writeFileSync(
      path.join(dir, 'bad.avsc'),
      '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}',
    );
    const problems = problemsOf({
      ...minimal,
      routes: [{ ...minimal.routes[0], schema: path.join(dir, 'bad.avsc') }],
    });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^routes\[0\]\.schema: .*not a valid Avro schema/);
  });

  test('broken YAML is reported with its line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-config-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, 'kafka:\n  brokers: [a:1\nroutes: []\n');
    assert.throws(
      () => loadConfigFile(file),
      (err: unknown) => err instanceof ConfigError && /line \d+/.test(err.message),
    );
  });

  test("broken YAML: one line with the position, the parser's complaint and the line it is about", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-config-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, 'auth: none\nkafka:\n  brokers: [a:1\nroutes: []\n');
    try {
      loadConfigFile(file);
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      const [p] = err.problems;
      assert.equal(p!.path, 'line 4, column 1');
      assert.match(p!.message, /^YAML syntax: .*end with a \] \(line 4 reads `routes: \[\]`\)$/);
    }
  });

  test('a typo in a key: did you mean the known key at the same place', () => {
    const problems = problemsOf({
      ...minimal,
      kafka: { ...minimal.kafka, clinet: 'kafkajs' },
      spoool: {},
      mqtt: { limits: { maxConections: 3 } },
      routes: [{ ...minimal.routes[0], kye: 'vehicleId' }],
      colour: 'blue',
    });
    assert.deepEqual(problems.sort(), [
      'colour: unknown key',
      'kafka.clinet: unknown key — did you mean kafka.client?',
      'mqtt.limits.maxConections: unknown key — did you mean mqtt.limits.maxConnections?',
      'routes[0].kye: unknown key — did you mean routes[0].key?',
      'spoool: unknown key — did you mean spool?',
    ]);
  });
});
