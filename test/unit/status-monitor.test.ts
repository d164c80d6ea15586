// The status monitor: rates over the window from sampled counters, conditions that keep the time
// they were first seen, Kafka's last change, and the rate history the page draws.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reading } from '../../gateway/http/assess.ts';
import { StatusMonitor } from '../../gateway/http/status.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('rates, since, history', async (t) => {
  // 1,000 messages/s in and 1,000 records/s out, by the clock (timer jitter does not matter).
  const t0 = performance.now();
  let messages = 0;
  let kafkaUp = true;
  const read = (): Reading => {
    messages = Math.floor(performance.now() - t0);
    return reading(messages);
  };
  const reading = (n: number): Reading => ({
    phase: 'running',
    mqttListening: true,
    kafkaUp,
    connectedDevices: 1,
    routes: [
      { name: 'a', messages: n, bytes: n * 10 },
      { name: 'no_route', messages: 0, bytes: 0 },
    ],
    recordsOut: n,
    deadLetters: { invalid_json: 2 },
    dropped: { spool_full: 0 },
    spool: null,
    buffer: { bytes: 0, maxBytes: 1000, waiting: 0 },
    spoolIoErrors: 0,
  });
  const monitor = new StatusMonitor({
    gatewayId: 'gw',
    version: '9.9.9',
    windowSeconds: 0.5,
    read,
    sampleEveryMs: 25,
    historyEveryMs: 100,
  });
  t.after(() => monitor.stop());
  monitor.start();
  await sleep(700);

  const s = monitor.status();
  assert.equal(s.state, 'ok');
  assert.ok(s.windowSeconds >= 0.45 && s.windowSeconds <= 0.6, `window ${s.windowSeconds}`);
  assert.ok(Math.abs(s.in.messagesPerSecond - 1000) < 20, `in ${s.in.messagesPerSecond}/s`);
  assert.ok(Math.abs(s.out.recordsPerSecond - 1000) < 20, `out ${s.out.recordsPerSecond}/s`);
  assert.ok(Math.abs(s.routes[0]!.bytesPerSecond - s.routes[0]!.messagesPerSecond * 10) < 0.1);
  assert.equal(s.in.messages, messages);
  assert.deepEqual(s.deadLetters, { total: 2, byReason: { invalid_json: 2 } });
  assert.equal(s.backlog.where, 'memory');
  assert.equal(s.gateway.version, '9.9.9');
  assert.equal(s.history.intervalSeconds, 0.1);
  assert.ok(s.history.in.length >= 4, `${s.history.in.length} history points`);
  assert.ok(
    s.history.in.every((r) => Math.abs(r - 1000) < 20),
    `history ${s.history.in}`,
  );

  kafkaUp = false;
  const down = monitor.status();
  assert.equal(down.kafka.up, false);
  assert.equal(down.state, 'degraded');
  await sleep(100);
  const later = monitor.status();
  assert.equal(later.conditions[0]!.since, down.conditions[0]!.since, 'since stays while it holds');
  assert.equal(later.kafka.since, down.kafka.since);
  kafkaUp = true;
  assert.equal(monitor.status().state, 'ok');
});
