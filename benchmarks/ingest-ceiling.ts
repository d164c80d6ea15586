// Ingest ceiling: how many QoS 1 messages per second get acknowledged, with no Kafka behind, by
// aedes alone (a publish handler that calls back at once) and by weir with the blackhole sink,
// spool on (PUBACK after the group-commit fsync) and off (PUBACK once the blackhole took the
// batch). The ratios weir ÷ aedes show what weir's own stages cost (routing, JSON → Avro, the
// spool, batching). Same load for all: the raw publisher (closed loop: every PUBACK frees a slot
// of its connection's window), in its own process; each server in its own process.
//
//   node benchmarks/ingest-ceiling.ts [--quick] [--duration MS] [--connections N] [--window K]
import path from 'node:path';
import { writeGatewayConfig } from './lib/config.ts';
import { num, parseCaseArgs } from './lib/options.ts';
import {
  BENCH_DIR,
  cpuSeconds,
  rssMb,
  runDir,
  type Server,
  startPublisher,
  startServer,
} from './lib/procs.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({
  duration: { type: 'string' },
  'warmup-ms': { type: 'string' },
  qos: { type: 'string', default: '1' },
});
const quick = values.quick;
const DURATION = num(values.duration, quick ? 3000 : 15_000);
const WARMUP = num(values['warmup-ms'], quick ? 1000 : 3000);
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const QOS = values.qos === '0' ? 0 : 1;
const dir = runDir('ingest');

interface Target {
  readonly name: string;
  start(): Promise<Server>;
}

const weir = (spool: boolean): Target => ({
  name: spool ? 'weir-blackhole-spool' : 'weir-blackhole-nospool',
  start: () =>
    startServer({
      args: [
        path.join(BENCH_DIR, 'servers/weir-gateway.ts'),
        `--config=${writeGatewayConfig({ dir, name: spool ? 'spool' : 'nospool', brokers: ['127.0.0.1:9'], client: 'kafkajs', topic: 'bench.ingest', spool, ratePerConnection: 0 })}`,
        '--sink=blackhole',
      ],
      logFile: path.join(dir, `${spool ? 'spool' : 'nospool'}.log`),
    }),
});
const targets: Target[] = [
  {
    name: 'aedes',
    start: () =>
      startServer({
        args: [path.join(BENCH_DIR, 'servers/aedes-bare.ts')],
        logFile: path.join(dir, 'aedes.log'),
      }),
  },
  weir(true),
  weir(false),
];

interface Measured {
  ackedPerSec: number;
  sent: number;
  acked: number;
  serverCpuPct: number;
  serverRssMb: number | null;
}

const results: Record<string, Measured> = {};
for (const t of targets) {
  const server = await t.start();
  const port = Number(server.ready['mqttPort']);
  const run = (durationMs: number, tag: string) =>
    startPublisher({
      port,
      connections: CONNECTIONS,
      window: WINDOW,
      rate: 0,
      durationMs,
      qos: QOS,
      idPrefix: `${t.name}-${tag}`,
      logFile: path.join(dir, `publisher-${t.name}.log`),
    }).done;
  if (WARMUP > 0) await run(WARMUP, 'warm');
  const cpu0 = cpuSeconds(server.pid) ?? 0;
  const s = await run(DURATION, 'run');
  const cpu = (cpuSeconds(server.pid) ?? 0) - cpu0;
  results[t.name] = {
    ackedPerSec: QOS === 1 ? s.ackedPerSec : s.sentPerSec,
    sent: s.sent,
    acked: s.acked,
    serverCpuPct: Math.round((100 * cpu) / s.sendSeconds),
    serverRssMb: rssMb(server.pid),
  };
  await server.stop();
  process.stderr.write(`ingest-ceiling: ${t.name}: ${results[t.name]!.ackedPerSec} msg/s\n`);
}

const aedes = results['aedes']!.ackedPerSec;
const ratio = (name: string) => Number((results[name]!.ackedPerSec / aedes).toFixed(2));
const figures = {
  ...results,
  ratioSpoolVsAedes: ratio('weir-blackhole-spool'),
  ratioNoSpoolVsAedes: ratio('weir-blackhole-nospool'),
};
const unit = QOS === 1 ? 'acked msg/s' : 'sent msg/s';
await writeResult(
  'ingest-ceiling',
  {
    quick,
    qos: QOS,
    durationMs: DURATION,
    warmupMs: WARMUP,
    connections: CONNECTIONS,
    window: WINDOW,
    load: 'raw-publisher, closed loop',
  },
  figures,
  [
    ...targets.map((t): [string, string] => [
      `${t.name}, ${unit} (server CPU)`,
      `${results[t.name]!.ackedPerSec.toLocaleString('en')} (${results[t.name]!.serverCpuPct} %)`,
    ]),
    ['weir (spool) ÷ aedes', `${figures.ratioSpoolVsAedes}`],
    ['weir (no spool) ÷ aedes', `${figures.ratioNoSpoolVsAedes}`],
  ],
);
