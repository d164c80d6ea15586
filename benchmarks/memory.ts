// Memory: weir's resident set size (RSS) at the edge targets — idle after start, per idle MQTT
// connection, and at a steady 10,000 QoS 1 msg/s — into the real local Kafka with the default
// client (platformatic), spool on, as deployed (deploy/systemd/weir.service): Node started with
// --max-semi-space-size=4 and a compile cache that an earlier start filled. Beside it, in the same
// run, plain `node` (no flag, no compile cache) idle, so the deployment's own saving is a ratio.
// RSS is read from /proc and split into anonymous memory (the process's own) and file-backed
// pages (mostly the node binary's code: shared with other Node processes and dropped first under
// memory pressure). Memory through a Kafka outage and its drain is measured by outage.ts.
//
// The idle connections come from a separate process (load/idle-connections.ts, raw sockets):
// weir and that process each need a soft `ulimit -n` above the connection count; the case checks it.
//
//   node benchmarks/memory.ts [--quick] [--pi] [--connections N] [--rate MSG_PER_S] [--duration MS]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { publishRatePerConnection, writeGatewayConfig } from './lib/config.ts';
import { openBenchKafka, prepareTopics } from './lib/kafka.ts';
import { kafkaSource, num, parseCaseArgs } from './lib/options.ts';
import {
  BENCH_DIR,
  DEPLOYED_NODE_FLAGS,
  runDir,
  type Server,
  startPublisher,
  startServer,
  watchProcesses,
} from './lib/procs.ts';
import { loadCommand, profile } from './lib/profile.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({ duration: { type: 'string' }, rate: { type: 'string' } });
const quick = values.quick;
const IDLE_MS = quick ? 5000 : 10_000;
const CONNECTIONS = num(values.connections, quick ? 2000 : 10_000);
const RATE = num(values.rate, 10_000);
/** The steady load's connections (each at RATE / LOAD_CONNECTIONS msg/s). */
const LOAD_CONNECTIONS = 20;
const DURATION = num(values.duration, quick ? 10_000 : 30_000);
const DEPLOYED_FLAGS = DEPLOYED_NODE_FLAGS;
const dir = runDir('memory');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fdLimit = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0);
if (fdLimit < CONNECTIONS + 1000) {
  process.stderr.write(
    `memory: the soft open-file limit is ${fdLimit}; ${CONNECTIONS} connections need more ` +
      `(run \`ulimit -n ${CONNECTIONS + 5000}\` first, or pass --connections)\n`,
  );
  process.exit(2);
}

interface Rss {
  rssMb: number;
  anonMb: number;
  fileMb: number;
}
function rssOf(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  const mb = (k: number) => Math.round(k / 102.4) / 10;
  return { rssMb: mb(kb('VmRSS')), anonMb: mb(kb('RssAnon')), fileMb: mb(kb('RssFile') + kb('RssShmem')) };
}

const kafka = await openBenchKafka(kafkaSource(values));
const cacheDir = path.join(dir, 'node-compile-cache');

async function startWeir(name: string, deployed: boolean): Promise<Server & { mqttPort: number }> {
  const topic = `bench.memory.${name}.${process.pid}`;
  await prepareTopics(kafka.brokers, [topic]);
  const config = writeGatewayConfig({
    dir,
    name,
    brokers: kafka.brokers,
    client: 'platformatic',
    topic,
    spool: true,
    ratePerConnection: publishRatePerConnection(RATE, LOAD_CONNECTIONS),
  });
  const server = await startServer({
    args: [
      ...(deployed ? DEPLOYED_FLAGS : []),
      path.join(BENCH_DIR, 'servers/weir-gateway.ts'),
      `--config=${config}`,
    ],
    logFile: path.join(dir, `weir-${name}.log`),
    ...(deployed && { env: { NODE_COMPILE_CACHE: cacheDir } }),
  });
  return Object.assign(server, { mqttPort: Number(server.ready['mqttPort']) });
}

const figures: Record<string, unknown> = {};
try {
  // Fill the compile cache once (what the service's first start does), then measure.
  await (await startWeir('fill-cache', true)).stop();

  const plain = await startWeir('plain', false);
  await sleep(IDLE_MS);
  figures['idlePlainNode'] = rssOf(plain.pid);
  await plain.stop();

  const weir = await startWeir('deployed', true);
  await sleep(IDLE_MS);
  const idle = rssOf(weir.pid);
  figures['idle'] = idle;
  figures['idleVsPlainNode'] = Number((idle.rssMb / (figures['idlePlainNode'] as Rss).rssMb).toFixed(2));
  process.stderr.write(`memory: idle ${JSON.stringify(idle)}\n`);

  // Idle connections, from their own process.
  const [program, args] = loadCommand([
    path.join(BENCH_DIR, 'load/idle-connections.ts'),
    `--broker=127.0.0.1:${weir.mqttPort}`,
    `--connections=${CONNECTIONS}`,
  ]);
  const holder = spawn(program, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([
    once(holder.stdout!, 'data'),
    once(holder, 'exit').then(() => {
      throw new Error('idle-connections exited early');
    }),
  ])) as [Buffer];
  const connected = Number(JSON.parse(line.toString()).idleConnections.connected);
  await sleep(IDLE_MS);
  const withConnections = rssOf(weir.pid);
  holder.kill('SIGTERM');
  await once(holder, 'exit');
  const perConnectionKb = ((withConnections.rssMb - idle.rssMb) * 1024) / connected;
  figures['connections'] = {
    connected,
    ...withConnections,
    perConnectionKb: Math.round(perConnectionKb * 10) / 10,
  };
  process.stderr.write(`memory: ${connected} idle connections ${JSON.stringify(figures['connections'])}\n`);
  await weir.stop();

  // A steady rate, on a fresh start (what 10,000 connections left in the heap is not counted):
  // RSS sampled every 500 ms while the publisher runs.
  const loaded = await startWeir('load', true);
  await sleep(IDLE_MS);
  const watch = watchProcesses([loaded.pid]);
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssOf(loaded.pid).rssMb), 500);
  const pub = await startPublisher({
    port: loaded.mqttPort,
    connections: LOAD_CONNECTIONS,
    window: 200,
    rate: RATE,
    durationMs: DURATION,
    qos: 1,
    idPrefix: `memory-${process.pid}`,
    logFile: path.join(dir, 'publisher.log'),
  }).done;
  clearInterval(sampler);
  const use = watch.stop();
  const steady = samples.slice(Math.floor(samples.length / 3)); // after the first third: warmed up
  figures['load'] = {
    rate: RATE,
    ackedPerSec: pub.ackedPerSec,
    rssMaxMb: use.rssMaxMb,
    steadyMaxMb: Math.max(...steady),
    steadyMeanMb: Math.round((steady.reduce((a, b) => a + b, 0) / steady.length) * 10) / 10,
    after: rssOf(loaded.pid),
  };
  process.stderr.write(`memory: load ${JSON.stringify(figures['load'])}\n`);
  await loaded.stop();
} finally {
  await kafka.close();
}

const idle = figures['idle'] as Rss;
const plainIdle = figures['idlePlainNode'] as Rss;
const conn = figures['connections'] as Rss & { connected: number; perConnectionKb: number };
const load = figures['load'] as {
  ackedPerSec: number;
  steadyMaxMb: number;
  steadyMeanMb: number;
  rssMaxMb: number;
};
const split = (r: Rss) => `${r.rssMb} MB (anon ${r.anonMb}, file ${r.fileMb})`;
await writeResult(
  'memory',
  {
    quick,
    idleMs: IDLE_MS,
    connections: CONNECTIONS,
    rate: RATE,
    durationMs: DURATION,
    client: 'platformatic',
    spool: true,
    deployedFlags: DEPLOYED_FLAGS,
    profile: profile().description,
  },
  figures,
  [
    [`RSS idle ${IDLE_MS / 1000} s after start, as deployed (target ≤ 80 MB)`, split(idle)],
    ['RSS idle, plain node (no flag, no compile cache)', split(plainIdle)],
    ['as deployed ÷ plain node, idle', `${figures['idleVsPlainNode']}`],
    [`RSS with ${conn.connected.toLocaleString('en')} idle connections`, split(conn)],
    ['per idle connection (target ≤ 10 KB)', `${conn.perConnectionKb} KB`],
    [
      `RSS at ${RATE.toLocaleString('en')} QoS 1 msg/s for ${DURATION / 1000} s, steady max / mean (target ≤ 150 MB)`,
      `${load.steadyMaxMb} / ${load.steadyMeanMb} MB (max overall ${load.rssMaxMb}; acked ${Math.round(load.ackedPerSec).toLocaleString('en')} msg/s)`,
    ],
  ],
);
