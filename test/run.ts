// `npm test`: every test file against one Kafka, in two lanes that run at the same time, each
// file in its own process (Node's runner):
//  - the heavy lane runs the two long fault runs under load — a 3-node cluster at 600 msg/s
//    (about 4 minutes), 1,000 msg/s through a Kafka outage (about 2.5) — one after the other.
//    They set the length of the run, and their throughput and recovery assertions need steady CPU,
//    so they never run together, and their processes keep the normal CPU priority;
//  - the shared lane runs every other file, POOL_CONCURRENCY at a time, slowest first so that no
//    long file starts last and ends the run alone, at a lower CPU priority (nice 10, see
//    test/support/lower-priority.ts): on a busy machine the heavy lane gets the CPU first.
// One Kafka broker serves both lanes (test/global-setup.ts, started here once; the file processes
// inherit WEIR_TEST_KAFKA_BROKERS). Tests that share it keep apart by unique topic names, consumer
// groups and temp dirs, and listen on port 0 or on ports from test/support/ports.ts; tests that
// kill or freeze a broker start their own. Output is Node's spec reporter, a file's results
// together; at the end, each file's wall time, slowest first, so the figure is measured on every
// run (a busy shared machine makes it longer; the tests with time bounds feel it first).
//
//   node test/run.ts [FILE|GLOB ...]    (default: test/**/*.test.ts)
import { globSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { PassThrough } from 'node:stream';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { globalSetup, globalTeardown } from './global-setup.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The heavy lane, in this order (see above). */
const HEAVY = ['test/integration/cluster-failover.test.ts', 'test/integration/kafka-outage.test.ts'];

/**
 * The shared lane's slow files, slowest first (from the table a run prints); the rest follow in
 * name order. Only the order depends on this list, not which files run.
 */
const SLOW_FIRST = [
  'test/integration/weir-crash.test.ts',
  'test/integration/kafka-security.test.ts',
  'test/integration/ops-outage.test.ts',
  'test/integration/sink-recovery.test.ts',
  'test/integration/spool-full.test.ts',
  'test/integration/spool-disk-full.test.ts',
  'test/integration/sim-10k.test.ts',
  'test/integration/kafka-hang-status.test.ts',
  'test/integration/sink-hang.test.ts',
  'test/integration/bench-smoke.test.ts',
  'test/integration/demo.test.ts',
];

/**
 * Files of the shared lane at a time, besides the heavy lane's one. With three the shared lane
 * ends before the heavy lane on 2 cores; with two, the lanes took about as long.
 */
const POOL_CONCURRENCY = 3;

interface Lane {
  name: string;
  files: string[];
  concurrency: number;
  /** Node flags for the lane's file processes. */
  execArgv: string[];
}

interface FileTime {
  file: string;
  lane: string;
  /** When the file's process started, ms after the run began. */
  startedMs: number;
  ms: number;
  passed: boolean;
}

function testFiles(patterns: string[]): string[] {
  const found = new Set<string>();
  for (const pattern of patterns.length > 0 ? patterns : ['test/**/*.test.ts']) {
    const matches = globSync(pattern, { cwd: root });
    if (matches.length === 0) throw new Error(`no test file matches ${pattern}`);
    for (const m of matches) found.add(path.relative(root, path.resolve(root, m)));
  }
  return [...found].sort();
}

function lanes(files: string[]): Lane[] {
  const heavy = HEAVY.filter((f) => files.includes(f));
  const rank = (f: string) => {
    const i = SLOW_FIRST.indexOf(f);
    return i < 0 ? SLOW_FIRST.length : i;
  };
  const shared = files.filter((f) => !heavy.includes(f)).sort((a, b) => rank(a) - rank(b));
  return [
    { name: 'heavy', files: heavy, concurrency: 1, execArgv: [] },
    {
      name: 'shared',
      files: shared,
      concurrency: POOL_CONCURRENCY,
      execArgv: ['--import', path.join(root, 'test/support/lower-priority.ts')],
    },
  ].filter((lane) => lane.files.length > 0);
}

type Event = { type: string; data: Record<string, unknown> & { file?: string; nesting?: number } };
type Counts = Record<string, number>;

/**
 * Runs one lane and passes its events on to `out` a file at a time: Node's runner reports a
 * file's results together, ending with the file's test:summary, so a block of events never mixes
 * two files even when the two lanes finish files at the same moment. The lane's own totals are
 * kept back (the caller reports the sum of both lanes) and returned.
 */
async function runLane(
  lane: Lane,
  out: PassThrough,
  times: FileTime[],
  runStarted: number,
  signal: AbortSignal,
): Promise<Counts> {
  const stream = run({
    files: lane.files.map((f) => path.join(root, f)),
    concurrency: lane.concurrency,
    execArgv: lane.execArgv,
    cwd: root,
    signal,
  });
  let block: Event[] = [];
  let counts: Counts = {};
  const startedAt = new Map<string, number>();
  for await (const event of stream as AsyncIterable<Event>) {
    const { type, data } = event;
    // The test that stands for a whole file: named by its path, at the top.
    const file =
      data.nesting === 0 && data.file !== undefined && path.resolve(root, String(data.name)) === data.file
        ? data.file
        : null;
    if (file !== null && type === 'test:dequeue') startedAt.set(file, Date.now() - runStarted);
    if (file !== null && type === 'test:complete') {
      const details = data['details'] as { duration_ms: number; passed: boolean };
      times.push({
        file: path.relative(root, file),
        lane: lane.name,
        startedMs: startedAt.get(file) ?? 0,
        ms: details.duration_ms,
        passed: details.passed,
      });
      continue;
    }
    if (
      data.file === undefined &&
      (type === 'test:summary' || type === 'test:diagnostic' || type === 'test:plan')
    ) {
      if (type === 'test:summary') counts = data['counts'] as Counts;
      continue;
    }
    block.push(event);
    if (type === 'test:summary') {
      for (const e of block) out.write(e);
      block = [];
    }
  }
  for (const e of block) out.write(e);
  return counts;
}

function timeTable(times: FileTime[], wallMs: number): string {
  const rows = [...times].sort((a, b) => b.ms - a.ms);
  const width = Math.max(...rows.map((r) => r.file.length));
  const lines = rows.map(
    (r) =>
      `${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.file.padEnd(width)}  ${r.lane} lane, from ${(r.startedMs / 1000).toFixed(0)} s${r.passed ? '' : '  FAILED'}`,
  );
  const serial = rows.reduce((sum, r) => sum + r.ms, 0);
  return [
    '',
    'wall time per file, slowest first:',
    ...lines,
    `${(wallMs / 1000).toFixed(1).padStart(7)} s  in all (the files' times add up to ${(serial / 1000).toFixed(1)} s)`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const started = Date.now();
  const files = testFiles(process.argv.slice(2));
  await globalSetup();
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const times: FileTime[] = [];
  const out = new PassThrough({ objectMode: true });
  const printed = new Promise<void>((resolve, reject) => {
    out.compose(spec).on('error', reject).on('end', resolve).pipe(process.stdout, { end: false });
  });
  let failed = false;
  try {
    const results = await Promise.all(
      lanes(files).map((lane) => runLane(lane, out, times, started, abort.signal)),
    );
    const total: Counts = {};
    for (const counts of results) for (const [k, v] of Object.entries(counts)) total[k] = (total[k] ?? 0) + v;
    failed = (total['failed'] ?? 0) > 0 || (total['cancelled'] ?? 0) > 0 || times.some((t) => !t.passed);
    // The totals as Node's runner words them.
    const labels = {
      tests: 'tests',
      suites: 'suites',
      passed: 'pass',
      failed: 'fail',
      cancelled: 'cancelled',
      skipped: 'skipped',
      todo: 'todo',
    };
    for (const [key, label] of Object.entries(labels))
      out.write({ type: 'test:diagnostic', data: { nesting: 0, message: `${label} ${total[key] ?? 0}` } });
    out.write({
      type: 'test:diagnostic',
      data: { nesting: 0, message: `duration_ms ${Date.now() - started}` },
    });
  } finally {
    out.end();
    await printed;
    await globalTeardown();
  }
  process.stdout.write(timeTable(times, Date.now() - started));
  return failed || abort.signal.aborted ? 1 : 0;
}

process.exitCode = await main();
