// Child processes of a benchmark: the server under test (weir, aedes, mosquitto, Telegraf, a
// bridge) and the load generator each run in their own process, so they never share an event loop
// with each other or with the orchestrating script. Servers run in the case's profile (pinned and
// capped with --pi: lib/profile.ts). Output goes to log files under the run's log directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { answers } from '../../device-sim/demo/gateway-process.ts';
import { loadCommand, serverCommand } from './profile.ts';

export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
export const REPO_DIR = path.resolve(BENCH_DIR, '..');

/** A directory for this run's logs, configs, reports and spool (under $WEIR_BENCH_WORK_DIR or the temp dir). */
export function runDir(name: string): string {
  const base = process.env['WEIR_BENCH_WORK_DIR'] || tmpdir();
  const dir = path.join(base, `weir-bench-${name}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Server {
  readonly pid: number;
  /** The `benchReady` object the server printed. */
  readonly ready: Record<string, unknown>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Starts `cmd args` (no `cmd`: a Node program) and waits for a stdout line
 * `{"benchReady": {...}}` (`readyPort`: or, for a program that prints nothing of the kind, until
 * that TCP port answers and, with `readyLine`, a line of its output matches).
 */
export async function startServer(o: {
  cmd?: string;
  args: readonly string[];
  logFile: string;
  readyPort?: number;
  readyLine?: RegExp;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<Server> {
  const log = createWriteStream(o.logFile, { flags: 'a' });
  const [program, args] = serverCommand(o.cmd, o.args);
  const child = spawn(program, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO_DIR,
    ...(o.env !== undefined && { env: { ...process.env, ...o.env } }),
  });
  children.add(child);
  const exited = once(child, 'exit').then(([code]) => {
    children.delete(child);
    return code as number | null;
  });
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  let ready: Record<string, unknown> | null = null;
  let sawLine = o.readyLine === undefined;
  let tail = '';
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    log.write(chunk);
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (ready === null && line.startsWith('{"benchReady"')) ready = JSON.parse(line).benchReady;
      if (o.readyLine?.test(line)) sawLine = true;
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-3000);
    if (o.readyLine?.test(tail)) sawLine = true;
  });
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (;;) {
    if (ready !== null) break;
    const byOutput = o.readyPort !== undefined || o.readyLine !== undefined;
    if (byOutput && sawLine && (o.readyPort === undefined || (await answers(o.readyPort)))) {
      ready = o.readyPort === undefined ? {} : { mqttPort: o.readyPort };
      break;
    }
    if (exitCode !== undefined) throw new Error(`${o.args.join(' ')} exited (${exitCode}): ${tail}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${o.args.join(' ')} was not ready in time: ${tail}`);
    }
    await sleep(50);
  }
  const readyInfo: Record<string, unknown> = ready;
  return {
    pid: child.pid!,
    ready: readyInfo,
    exited,
    async stop(graceMs = 30_000) {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(() => resolve()));
      return exited;
    },
  };
}

export interface PublisherSummary {
  readonly qos: number;
  readonly connections: number;
  readonly connected: number;
  readonly window: number;
  readonly rate: number;
  readonly startedAtMs: number;
  readonly sendEndedAtMs: number;
  readonly sendSeconds: number;
  readonly sent: number;
  readonly acked: number;
  readonly unacked: number;
  readonly skipped: number;
  readonly sentPerSec: number;
  readonly ackedPerSec: number;
  readonly perSecond: readonly number[];
  readonly errors: readonly string[];
}

export interface PublisherRun {
  readonly pid: number;
  /** Asks a publisher without a duration to stop (it then waits for its acknowledgements). */
  stop(): void;
  readonly done: Promise<PublisherSummary>;
}

export interface PublisherOptions {
  readonly port: number;
  readonly connections: number;
  readonly window: number;
  /** Messages per second over all connections; 0: as fast as the windows allow. */
  readonly rate: number;
  /** 0: until stop(). */
  readonly durationMs: number;
  readonly qos: 0 | 1;
  readonly idPrefix: string;
  readonly report?: string;
  readonly logFile: string;
  readonly drainTimeoutMs?: number;
}

/** Runs benchmarks/load/raw-publisher.ts in its own process. */
export function startPublisher(o: PublisherOptions): PublisherRun {
  const args = [
    path.join(BENCH_DIR, 'load/raw-publisher.ts'),
    `--broker=127.0.0.1:${o.port}`,
    `--connections=${o.connections}`,
    `--window=${o.window}`,
    `--rate=${o.rate}`,
    `--duration=${o.durationMs}`,
    `--qos=${o.qos}`,
    `--id-prefix=${o.idPrefix}`,
    `--drain-timeout=${o.drainTimeoutMs ?? 15_000}`,
    ...(o.report === undefined ? [] : [`--report=${o.report}`]),
  ];
  const [program, programArgs] = loadCommand(args);
  const child = spawn(program, programArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const log = createWriteStream(o.logFile, { flags: 'a' });
  let out = '';
  let errText = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    log.write(c);
    errText = (errText + c.toString()).slice(-3000);
  });
  const done = once(child, 'exit').then(([code]) => {
    children.delete(child);
    log.end();
    const line = out.trim().split('\n').pop() ?? '';
    if (code !== 0 || !line.startsWith('{')) throw new Error(`raw-publisher exited ${code}: ${errText}`);
    return JSON.parse(line) as PublisherSummary;
  });
  return { pid: child.pid!, stop: () => child.kill('SIGINT'), done };
}

/** Resident set size of a process, MB (from /proc; null when it is gone). */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Math.round(Number(m[1]) / 102.4) / 10;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far (from /proc). */
export function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export interface ProcessUse {
  /** Summed over the processes, per sample: the most and the median, MB. */
  readonly rssMaxMb: number | null;
  readonly rssMedianMb: number | null;
  /** Each process's most, MB, in the order given. */
  readonly rssMaxMbEach: ReadonlyArray<number | null>;
  /** CPU seconds (user + system) all of them used while watched. */
  readonly cpuSeconds: number;
}

/**
 * Samples the RSS of a set of processes (the processes of one system under test) every
 * `everyMs`, and their CPU time, until stop().
 */
export function watchProcesses(pids: readonly number[], everyMs = 500): { stop(): ProcessUse } {
  const cpu0 = pids.map((p) => cpuSeconds(p) ?? 0);
  const cpuLast = [...cpu0];
  const sums: number[] = [];
  const maxEach: Array<number | null> = pids.map(() => null);
  const sample = () => {
    let sum = 0;
    let any = false;
    pids.forEach((pid, i) => {
      const rss = rssMb(pid);
      const cpu = cpuSeconds(pid);
      if (cpu !== null) cpuLast[i] = cpu;
      if (rss === null) return;
      any = true;
      sum += rss;
      maxEach[i] = Math.max(maxEach[i] ?? 0, rss);
    });
    if (any) sums.push(Math.round(sum * 10) / 10);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      sample();
      clearInterval(timer);
      const sorted = [...sums].sort((a, b) => a - b);
      return {
        rssMaxMb: sorted.at(-1) ?? null,
        rssMedianMb: sorted[Math.floor(sorted.length / 2)] ?? null,
        rssMaxMbEach: maxEach,
        cpuSeconds: Math.round(100 * cpuLast.reduce((a, c, i) => a + c - cpu0[i]!, 0)) / 100,
      };
    },
  };
}

/** Values of unlabelled weir metrics from /metrics. */
export async function scrape(httpPort: number, names: readonly string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of names) {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    if (m !== null) out[name] = Number(m[1]);
  }
  return out;
}

/** Waits until weir's spool holds no record Kafka has not acknowledged; false on timeout. */
export async function spoolDrained(httpPort: number, timeoutMs: number, below = 1): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = await scrape(httpPort, ['weir_spool_records']).catch(() => ({}) as Record<string, number>);
    const left = m['weir_spool_records'];
    if (left !== undefined && left < below) return true;
    await sleep(200);
  }
  return false;
}

/**
 * The V8 flags weir is deployed with (deploy/systemd/weir.service, deploy/container/Containerfile,
 * the bin's shebang, npm start): a young generation of at most 4 MB a semi-space.
 */
export const DEPLOYED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
