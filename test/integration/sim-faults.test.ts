// Faults from the simulator against the real gateway and Kafka: devices dropping off the network
// and coming back (persistent sessions: unacknowledged QoS 1 messages are resent), malformed
// payloads (dead letters) and packets over the size limit (the gateway closes the connection).
// Whatever happens, nothing the gateway acknowledged may be missing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSimArgs, type SimOptions } from '../../device-sim/options.ts';
import { runSimulation } from '../../device-sim/runner.ts';
import { verifyRun } from '../../device-sim/verify/verify.ts';
import { metricValue } from '../../gateway/metrics.ts';
import { testKafkaBrokers } from '../helpers/kafka.ts';
import { startTestGateway } from '../support/gateway.ts';

function simOptions(args: string[]): SimOptions {
  const parsed = parseSimArgs(args, {
    nowMs: Date.now(),
    randomSeed: 1,
    randomRunId: Math.random().toString(16).slice(2, 8),
    env: {},
  });
  assert.ok(parsed.ok && !parsed.help, JSON.stringify(parsed));
  return parsed.options;
}

describe('simulated faults', () => {
  test('churn, malformed and oversize messages: nothing acknowledged is lost, every malformed one is a dead letter', async (t) => {
    const maxPacketBytes = 64 * 1024;
    const { gateway, topics, url } = await startTestGateway(t, {
      mqtt: { host: '127.0.0.1', port: 0, maxPacketBytes },
    });
    const opts = simOptions([
      ...[
        '--broker',
        url,
        '--devices',
        '120',
        '--duration',
        '12s',
        '--rate',
        '3',
        '--qos',
        '1',
        '--seed',
        '77',
      ],
      ...['--churn', '100%', '--churn-downtime', '1s', '--invalid-ratio', '3%', '--oversize-ratio', '0.3%'],
      ...['--oversize-bytes', String(maxPacketBytes + 1000), '--report', '/dev/null'],
    ]);
    const { report, ok } = await runSimulation(opts);
    const totals = report.totals;
    assert.equal(
      ok,
      true,
      `every device connected and every message acknowledged: ${JSON.stringify(totals)}`,
    );
    assert.ok(totals.drops >= 10, `devices dropped off (${totals.drops})`);
    assert.ok(totals.reconnects >= totals.drops, 'and came back');
    assert.ok(totals.invalidSent > 20 && totals.invalidAcked === totals.invalidSent);
    assert.ok(totals.oversizeSent > 0, 'oversize packets were sent');
    assert.ok(totals.disconnects > 0, 'the gateway closed connections that sent oversize packets');

    const result = await verifyRun(report, {
      brokers: testKafkaBrokers(),
      topics: { 'smart-city': topics.city, 'factory-line': topics.factory, 'vehicle-gps': topics.vehicle },
      deadLetterTopic: topics.deadLetter,
      from: 'run',
      timeoutMs: 60_000,
      waitMs: 5_000,
      integrity: true,
    });
    assert.equal(result.verdict, 'pass', result.reasons.join('; '));
    // Devices lost their connection with a message in flight; the gateway had taken some of them,
    // so the resends after reconnecting are duplicates in Kafka: counted, never loss.
    assert.ok(
      result.fleets.reduce((n, f) => n + f.duplicates, 0) > 0,
      'resent messages show up as duplicates',
    );
    for (const f of result.fleets) {
      assert.equal(f.lost, 0, f.fleet);
      assert.equal(f.corrupted, 0, f.fleet);
      assert.equal(f.received, f.sent, `${f.fleet}: every reading arrived (the run drained)`);
    }
    const dead = result.deadLetters!;
    assert.equal(dead.expected, totals.invalidAcked);
    assert.ok(dead.found >= dead.expected, `dead letters ${dead.found} ≥ ${dead.expected}`);
    assert.ok((dead.byReason['invalid_json'] ?? 0) > 0 && (dead.byReason['schema_mismatch'] ?? 0) > 0);

    const tooLarge = await metricValue(gateway.metrics.registry, 'weir_dropped_messages_total', {
      reason: 'too_large',
    });
    assert.ok(
      tooLarge >= 1 && tooLarge <= totals.oversizeSent,
      `too_large ${tooLarge} of ${totals.oversizeSent} sent`,
    );
  });
});
