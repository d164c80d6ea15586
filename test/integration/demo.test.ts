// `weir demo` (what `npm run demo` runs) as a real child process: it starts a local Kafka, the
// gateway, a fleet and verify, prints the summary and stops what it started — also on Ctrl-C.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { kafkaStatus, stopKafka } from '../../tools/kafka/local-kafka.ts';
import { testKafkaBrokers } from '../helpers/kafka.ts';
import { freePortAndNext } from '../support/ports.ts';
import { runWeir, spawnWeir, waitForOutput } from '../support/weir-cli.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes the directory where the demo kept its report and the gateway log. */
function removeDemoFiles(output: string): void {
  const m = /^files: (\S+)/m.exec(output);
  if (m) rmSync(m[1]!, { recursive: true, force: true });
}

function gatewayPid(output: string): number {
  const m = /gateway \(pid (\d+)\)/.exec(output);
  assert.ok(m, `the demo names the gateway's pid:\n${output}`);
  return Number(m[1]);
}

describe('weir demo', () => {
  test('starts Kafka and the gateway, runs a fleet, verifies, and stops both again', {
    timeout: 180_000,
  }, async (t) => {
    const kafkaDir = mkdtempSync(path.join(tmpdir(), 'weir-demo-kafka-'));
    t.after(async () => {
      await stopKafka({ dir: kafkaDir }).catch(() => {});
      rmSync(kafkaDir, { recursive: true, force: true });
    });
    const kafkaPort = await freePortAndNext(); // the demo's Kafka takes the next one for its controller
    const demo = await runWeir(
      [
        'demo',
        '--kafka-dir',
        kafkaDir,
        '--kafka-port',
        String(kafkaPort),
        '--devices',
        '30',
        '--duration',
        '4s',
        '--seed',
        '3',
      ],
      { timeoutMs: 170_000 },
    );
    const out = demo.stdout + demo.stderr;
    t.after(() => removeDemoFiles(out));
    assert.equal(demo.code, 0, out);
    assert.match(out, /\[1\/5\] local Kafka/);
    assert.match(out, /Kafka [\d.]+ started at 127\.0\.0\.1:\d+/);
    assert.match(out, /\[4\/5\] 30 devices \(mixed fleets\)/);
    assert.match(out, /connected 30\/30/);
    assert.match(out, /^smart-city +iot\.smart-city\.readings +10 /m);
    assert.match(out, /Kafka append time − ts/);
    assert.match(out, /^PASS: every acknowledged message is in Kafka/m);
    assert.match(out, /stopping the gateway/);
    assert.match(out, /stopping the local Kafka/);
    assert.equal(alive(gatewayPid(out)), false, 'the gateway is gone');
    assert.equal(
      (await kafkaStatus({ dir: kafkaDir })).running,
      false,
      'the Kafka the demo started is stopped',
    );
  });

  test('Ctrl-C stops the gateway, leaves a Kafka it did not start running, and exits 130', {
    timeout: 90_000,
  }, async (t) => {
    const brokers = testKafkaBrokers().join(',');
    const demo = spawnWeir(['demo', '--kafka-brokers', brokers, '--devices', '20', '--duration', '60s']);
    await waitForOutput(demo, (all) => /connected 20\/20/.test(all), 60_000);
    const pid = gatewayPid(demo.stdout());
    assert.equal(alive(pid), true);
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 130, demo.stdout() + demo.stderr());
    t.after(() => removeDemoFiles(demo.stdout()));
    assert.match(demo.stdout(), /stopping the gateway/);
    assert.doesNotMatch(demo.stdout(), /stopping the local Kafka/);
    assert.equal(alive(pid), false, 'the gateway is gone');
    const again = await runWeir(['verify', '--prepare-topics', '--kafka-brokers', brokers], {
      timeoutMs: 30_000,
    });
    assert.equal(again.code, 0, 'the Kafka the demo did not start still answers');
  });
});
