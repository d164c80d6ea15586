// 10,000 simulated devices — each its own MQTT connection and client id — connect to weir from one
// `weir sim` process on this 2-core machine, publish, and are all accounted for in Kafka.
// The simulator runs as a child process: one process holding both ends of 10,000 loopback
// connections would need 20,000+ file descriptors.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readReport } from '../../device-sim/report.ts';
import { verifyRun } from '../../device-sim/verify/verify.ts';
import { metricValue } from '../../gateway/metrics.ts';
import { testKafkaBrokers } from '../helpers/kafka.ts';
import { startTestGateway } from '../support/gateway.ts';
import { spawnWeir, tempDir } from '../support/weir-cli.ts';

const DEVICES = 10_000;

describe('10,000 devices in one simulator process', () => {
  test('all connect to the gateway at once, publish, and every acknowledged message is in Kafka', {
    timeout: 120_000,
  }, async (t) => {
    const { gateway, topics, url } = await startTestGateway(t);
    const report = path.join(tempDir(t, 'weir-sim-10k-'), 'report.json');
    const started = performance.now();
    // Each device sends 2 readings 2 s apart once connected; the run ends when all have, so every
    // device stays connected until the last one has connected and published.
    const sim = spawnWeir([
      ...['sim', '--broker', url, '--devices', String(DEVICES), '--fleet', 'mixed', '--qos', '1'],
      ...[
        '--count',
        '2',
        '--rate',
        '0.5',
        '--connect-concurrency',
        '200',
        '--seed',
        '10000',
        '--report',
        report,
      ],
    ]);
    t.after(() => sim.child.kill('SIGKILL'));

    let peak = 0;
    let allConnectedAfterMs: number | null = null;
    while (sim.child.exitCode === null) {
      const connected = await metricValue(gateway.metrics.registry, 'weir_source_connected_devices');
      peak = Math.max(peak, connected);
      if (connected === DEVICES && allConnectedAfterMs === null)
        allConnectedAfterMs = performance.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    const code = await sim.exited;
    const totalMs = performance.now() - started;
    t.diagnostic(
      `all ${DEVICES} connected after ${((allConnectedAfterMs ?? NaN) / 1000).toFixed(1)} s; sim done in ${(totalMs / 1000).toFixed(1)} s`,
    );
    assert.equal(code, 0, sim.stdout() + sim.stderr().slice(-3000));
    assert.equal(peak, DEVICES, 'the gateway saw all 10,000 devices connected at the same time');
    assert.ok(allConnectedAfterMs !== null && allConnectedAfterMs < 60_000);
    assert.match(sim.stderr(), /connected 10,000\/10,000/);

    const r = await readReport(report);
    assert.equal(r.devices.length, DEVICES);
    assert.equal(new Set(r.devices.map((d) => d.clientId)).size, DEVICES);
    assert.equal(r.totals.neverConnected, 0);
    assert.equal(r.totals.sent, 2 * DEVICES);
    assert.equal(r.totals.acked, 2 * DEVICES);

    const result = await verifyRun(r, {
      brokers: testKafkaBrokers(),
      topics: { 'smart-city': topics.city, 'factory-line': topics.factory, 'vehicle-gps': topics.vehicle },
      from: 'run',
      timeoutMs: 60_000,
      waitMs: 5_000,
      integrity: true,
    });
    assert.equal(result.verdict, 'pass', result.reasons.join('; '));
    assert.equal(
      result.fleets.reduce((n, f) => n + f.received, 0),
      2 * DEVICES,
    );
  });
});
