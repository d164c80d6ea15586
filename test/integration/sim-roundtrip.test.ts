// The simulator and verify against the real thing: `weir sim` (a child process, 300 devices of
// three fleets, each its own MQTT connection, QoS 1) → weir → Kafka → `weir verify`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readReport } from '../../device-sim/report.ts';
import type { VerifyResult } from '../../device-sim/verify/verify.ts';
import { metricValue } from '../../gateway/metrics.ts';
import { testKafkaBrokers } from '../helpers/kafka.ts';
import { startTestGateway } from '../support/gateway.ts';
import { runWeir, tempDir } from '../support/weir-cli.ts';

describe('weir sim → weir → Kafka → weir verify', () => {
  test('300 devices of three fleets at QoS 1: every acknowledged message is in Kafka, intact', async (t) => {
    const { gateway, topics, url } = await startTestGateway(t);
    const brokers = testKafkaBrokers().join(',');
    const topicArgs = [
      ...['--topic', `smart-city=${topics.city}`, '--topic', `factory-line=${topics.factory}`],
      ...['--topic', `vehicle-gps=${topics.vehicle}`, '--deadletter-topic', topics.deadLetter],
    ];

    // Kafka stamps append time on these topics, so verify can measure device → Kafka latency.
    const prep = await runWeir(['verify', '--prepare-topics', '--kafka-brokers', brokers, ...topicArgs]);
    assert.equal(prep.code, 0, prep.stderr);
    assert.equal(prep.stdout.match(/switched \(LogAppendTime\)/g)?.length, 3, prep.stdout);

    const report = path.join(tempDir(t, 'weir-sim-'), 'report.json');
    const sim = await runWeir([
      ...['sim', '--broker', url, '--fleet', 'mixed', '--devices', '300', '--qos', '1'],
      ...['--count', '12', '--rate', '3', '--ramp-up', '2s', '--seed', '4242', '--report', report],
    ]);
    assert.equal(sim.code, 0, sim.stdout + sim.stderr);
    assert.match(sim.stderr, /connected 300\/300/, 'a status line shows every device connected');
    assert.match(sim.stdout, /readings sent 3,600 · acknowledged 3,600/);

    const r = await readReport(report);
    assert.equal(r.config.seed, 4242);
    assert.equal(new Set(r.devices.map((d) => d.clientId)).size, 300, 'a client id per device');
    assert.deepEqual(
      Object.fromEntries(
        ['smart-city', 'factory-line', 'vehicle-gps'].map((f) => [
          f,
          r.devices.filter((d) => d.fleet === f).length,
        ]),
      ),
      { 'smart-city': 100, 'factory-line': 100, 'vehicle-gps': 100 },
    );
    for (const d of r.devices) {
      assert.equal(d.sent, 12);
      assert.deepEqual(d.acked, [[1, 12]], `${d.deviceId} acknowledged 1–12`);
      assert.equal(d.connects, 1);
    }
    assert.equal(
      await metricValue(gateway.metrics.registry, 'weir_source_messages_total', { qos: '1' }),
      3600,
    );

    const verify = await runWeir([
      'verify',
      '--report',
      report,
      '--kafka-brokers',
      brokers,
      ...topicArgs,
      '--json',
    ]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const result = JSON.parse(verify.stdout) as VerifyResult;
    assert.equal(result.verdict, 'pass');
    assert.equal(result.integrity, 'checked');
    assert.equal(result.read.complete, true);
    assert.match(verify.stderr, /reading 3,600 of 3,600 records \(100%\)/, 'progress while reading');
    for (const f of result.fleets) {
      assert.equal(f.devices, 100, f.fleet);
      assert.equal(f.acked, 1200, f.fleet);
      assert.equal(f.received, 1200, f.fleet);
      assert.equal(f.lost + f.duplicates + f.outOfOrder + f.corrupted + f.unexpected, 0, f.fleet);
      assert.equal(f.checked, 1200, `${f.fleet}: every record compared with what the device sent`);
      assert.equal(f.timestampType, 'LogAppendTime');
      assert.ok(f.latency.gateway !== null && f.latency.gateway.p50 >= 0 && f.latency.gateway.max < 10_000);
      assert.ok(f.latency.append !== null && f.latency.append.p50 >= f.latency.gateway.p50);
    }

    const human = await runWeir([
      'verify',
      '--report',
      report,
      '--kafka-brokers',
      brokers,
      ...topicArgs,
      '--quiet',
    ]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^smart-city +test\.\S+\.city +100 +1,200 +1,200 +1,200 +0 +0 +0 +0$/m);
    assert.match(human.stdout, /Kafka append time − ts/);
    assert.match(
      human.stdout,
      /^PASS: every acknowledged message is in Kafka, with the values the device sent$/m,
    );
  });
});
