// `weir sim` options: defaults, every accepted form, and every problem listed at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSimArgs, type SimOptions } from '../../device-sim/options.ts';
import { parseDuration, parseRate, parseRatio } from '../../device-sim/parse.ts';

const ctx = { nowMs: 1_800_000_000_000, randomSeed: 1234, randomRunId: 'abc123', env: {} };
const parse = (...args: string[]) => parseSimArgs(args, ctx);
const ok = (...args: string[]): SimOptions => {
  const r = parse(...args);
  assert.ok(r.ok && !r.help, JSON.stringify(r));
  return (r as { options: SimOptions }).options;
};

test('defaults: 30 mixed devices, QoS 1, fleet rates, until Ctrl-C, a random seed and run id', () => {
  const o = ok();
  assert.equal(o.devices, 30);
  assert.equal(o.qos, 1);
  assert.deepEqual(o.rates, { 'smart-city': 1, 'factory-line': 5, 'vehicle-gps': 1 });
  assert.equal(o.durationMs, null);
  assert.equal(o.count, null);
  assert.equal(o.seed, 1234);
  assert.equal(o.idPrefix, 'simabc123');
  assert.equal(o.modelStartMs, ctx.nowMs);
  assert.equal(o.broker, 'mqtt://127.0.0.1:1883');
  assert.equal(o.reportPath, 'weir-sim-report.json');
});

test('every option is read', () => {
  const o = ok(
    ...[
      '--fleet',
      'smart-city=2,vehicle-gps=1',
      '--devices',
      '10000',
      '--rate',
      'factory-line=10,smart-city=30/min',
    ],
    ...['--duration', '2m', '--count', '50', '--qos', '2', '--ramp-up', '20s', '--connect-concurrency', '50'],
    ...['--broker', 'mqtts://gw.example:8883', '--username', 'u', '--password', 'p', '--churn', '5%'],
    ...[
      '--churn-downtime',
      '500ms',
      '--invalid-ratio',
      '0.01',
      '--oversize-ratio',
      '0.5%',
      '--oversize-bytes',
      '1000',
    ],
    ...[
      '--seed',
      '7',
      '--start-time',
      '2026-06-21T08:00:00Z',
      '--time-warp',
      '60',
      '--center',
      '48.137,11.575',
    ],
    ...[
      '--id-prefix',
      'lab',
      '--max-inflight',
      '10',
      '--keepalive',
      '30',
      '--report',
      'r.json',
      '--drain-timeout',
      '3s',
      '--quiet',
    ],
  );
  assert.deepEqual(o.mix, { 'smart-city': 2, 'vehicle-gps': 1 });
  assert.equal(o.devices, 10_000);
  assert.deepEqual(o.rates, { 'smart-city': 0.5, 'factory-line': 10, 'vehicle-gps': 1 });
  assert.equal(o.durationMs, 120_000);
  assert.equal(o.count, 50);
  assert.equal(o.qos, 2);
  assert.equal(o.rampUpMs, 20_000);
  assert.equal(o.connectConcurrency, 50);
  assert.equal(o.broker, 'mqtts://gw.example:8883');
  assert.equal(o.username, 'u');
  assert.equal(o.password, 'p');
  assert.equal(o.churnPerMin, 0.05);
  assert.equal(o.churnDowntimeMs, 500);
  assert.equal(o.invalidRatio, 0.01);
  assert.equal(o.oversizeRatio, 0.005);
  assert.equal(o.oversizeBytes, 1000);
  assert.equal(o.seed, 7);
  assert.equal(o.modelStartMs, Date.parse('2026-06-21T08:00:00Z'));
  assert.equal(o.timeWarp, 60);
  assert.deepEqual(o.center, { latDeg: 48.137, lonDeg: 11.575 });
  assert.equal(o.idPrefix, 'lab');
  assert.equal(o.maxInflight, 10);
  assert.equal(o.keepaliveS, 30);
  assert.equal(o.reportPath, 'r.json');
  assert.equal(o.drainTimeoutMs, 3000);
  assert.equal(o.quiet, true);
});

test('a single --rate applies to every fleet; the password may come from the environment', () => {
  assert.deepEqual(ok('--rate', '2/s').rates, { 'smart-city': 2, 'factory-line': 2, 'vehicle-gps': 2 });
  const r = parseSimArgs([], { ...ctx, env: { WEIR_SIM_PASSWORD: 'secret' } });
  assert.ok(r.ok && !r.help && r.options.password === 'secret');
});

test('every problem is listed at once', () => {
  const r = parse(
    ...['--fleet', 'trains', '--devices', '0', '--rate', 'fast', '--duration', 'soon', '--qos', '3'],
    ...[
      '--broker',
      'localhost',
      '--invalid-ratio',
      '1.5',
      '--seed',
      'abc',
      '--center',
      'here',
      '--id-prefix',
      'a/b',
    ],
  );
  assert.equal(r.ok, false);
  const problems = (r as { problems: readonly string[] }).problems.join('\n');
  for (const flag of [
    '--fleet',
    '--devices',
    '--rate',
    '--duration',
    '--qos',
    '--broker',
    '--invalid-ratio',
    '--seed',
    '--center',
    '--id-prefix',
  ]) {
    assert.match(problems, new RegExp(flag), `${flag} is reported`);
  }
  assert.equal((parse('--no-such-flag') as { ok: boolean }).ok, false);
  assert.equal((parse('extra') as { ok: boolean }).ok, false);
  assert.deepEqual(parse('--help'), { ok: true, help: true });
});

test('value parsers', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('10'), 10_000);
  assert.equal(parseDuration('10 parsecs'), null);
  assert.equal(parseRate('30/min'), 0.5);
  assert.equal(parseRate('0'), null);
  assert.equal(parseRatio('2%'), 0.02);
  assert.equal(parseRatio('2'), null);
});
