// The benchmark harness runs: the quick ingest ceiling and one tiny end-to-end step, through the
// real scripts (each server and the load generator in their own processes, the real Kafka), and
// their result files hold non-zero figures — in Kafka, checked per device sequence, nothing lost.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { testKafkaBrokers } from '../helpers/kafka.ts';

const run = promisify(execFile);
const BENCH = fileURLToPath(new URL('../../benchmarks/', import.meta.url));

function result(
  dir: string,
  name: string,
): { figures: Record<string, unknown>; commit: string; node: string } {
  assert.ok(existsSync(path.join(dir, `${name}.md`)), `${name}.md written`);
  return JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8'));
}

test('quick ingest ceiling and a tiny end-to-end step write sane, verified figures', {
  timeout: 90_000,
}, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-bench-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    ...process.env,
    WEIR_BENCH_RESULTS_DIR: dir,
    WEIR_BENCH_WORK_DIR: dir,
    WEIR_BENCH_KAFKA_BROKERS: testKafkaBrokers().join(','),
  };
  const opts = { env, timeout: 80_000, maxBuffer: 16 * 1024 * 1024 };

  await run(
    process.execPath,
    [
      path.join(BENCH, 'ingest-ceiling.ts'),
      '--quick',
      '--duration=1500',
      '--warmup-ms=500',
      '--connections=5',
    ],
    opts,
  );
  const ingest = result(dir, 'ingest-ceiling');
  assert.match(ingest.commit, /^[0-9a-f]{7,}|unknown$/);
  assert.equal(ingest.node, process.version);
  for (const name of ['aedes', 'weir-blackhole-spool', 'weir-blackhole-nospool']) {
    const m = ingest.figures[name] as { ackedPerSec: number; acked: number; sent: number };
    assert.ok(m.ackedPerSec > 0, `${name} acknowledged messages`);
    assert.ok(m.acked > 0 && m.acked <= m.sent, `${name}: acked ${m.acked} of ${m.sent}`);
  }
  assert.ok((ingest.figures['ratioSpoolVsAedes'] as number) > 0);

  await run(
    process.execPath,
    [
      path.join(BENCH, 'end-to-end.ts'),
      '--clients=kafkajs',
      '--steps=2000',
      '--step-ms=2000',
      '--qos=1',
      '--no-bridge',
      '--warmup-ms=0',
      '--connections=5',
    ],
    opts,
  );
  const e2e = result(dir, 'end-to-end');
  const clients = e2e.figures['clients'] as Record<
    string,
    { qos1: { steps: Array<Record<string, number | boolean>> } }
  >;
  const step = clients['kafkajs']!.qos1.steps[0]!;
  assert.ok((step['acked'] as number) > 1000, `acked ${step['acked']}`);
  assert.equal(step['lost'], 0, 'every acknowledged message is in Kafka');
  assert.ok((step['inKafka'] as number) >= (step['acked'] as number), 'found in Kafka ≥ acknowledged');
  assert.equal(step['drained'], true);
  assert.ok((step['kafkaPerSec'] as number) > 0);
});
