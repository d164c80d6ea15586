// Front-end ceiling: how many QoS 1 messages per second get acknowledged by weir's own device front
// end (gateway/source/front-end/) with an intake that settles at once, against aedes alone with a
// publish handler that calls back at once — the same raw publisher (closed loop, N connections ×
// window K), each server in its own process, in the same run. Rounds alternate between the two so
// that drift of a shared machine falls on both; the figure per server is its median round. RSS is
// read at the end of each measured round (steady state under load).
//
//   node benchmarks/front-end-ceiling.ts [--quick] [--duration MS] [--rounds R] [--connections N] [--window K]
import path from 'node:path';
import { num, parseCaseArgs } from './lib/options.ts';
import { BENCH_DIR, cpuSeconds, rssMb, runDir, startPublisher, startServer } from './lib/procs.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({
  duration: { type: 'string' },
  'warmup-ms': { type: 'string' },
  rounds: { type: 'string' },
});
const quick = values.quick;
const DURATION = num(values.duration, quick ? 3000 : 10_000);
const WARMUP = num(values['warmup-ms'], quick ? 1000 : 3000);
const ROUNDS = num(values.rounds, quick ? 1 : 3);
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const dir = runDir('front-end');

const SERVERS = { aedes: 'servers/aedes-bare.ts', 'front-end': 'servers/front-end-bare.ts' } as const;
type Name = keyof typeof SERVERS;

interface Round {
  ackedPerSec: number;
  serverCpuPct: number;
  serverRssMb: number | null;
}

async function measure(name: Name, round: number): Promise<Round> {
  const server = await startServer({
    args: [path.join(BENCH_DIR, SERVERS[name])],
    logFile: path.join(dir, `${name}.log`),
  });
  const port = Number(server.ready['mqttPort']);
  const run = (durationMs: number, tag: string) =>
    startPublisher({
      port,
      connections: CONNECTIONS,
      window: WINDOW,
      rate: 0,
      durationMs,
      qos: 1,
      idPrefix: `${name}-${round}-${tag}`,
      logFile: path.join(dir, `publisher-${name}.log`),
    }).done;
  if (WARMUP > 0) await run(WARMUP, 'warm');
  const cpu0 = cpuSeconds(server.pid) ?? 0;
  const s = await run(DURATION, 'run');
  const cpu = (cpuSeconds(server.pid) ?? 0) - cpu0;
  const rss = rssMb(server.pid);
  await server.stop();
  const r = {
    ackedPerSec: s.ackedPerSec,
    serverCpuPct: Math.round((100 * cpu) / s.sendSeconds),
    serverRssMb: rss,
  };
  process.stderr.write(`front-end-ceiling: round ${round} ${name}: ${r.ackedPerSec} msg/s, ${rss} MB\n`);
  return r;
}

const rounds: Record<Name, Round[]> = { aedes: [], 'front-end': [] };
for (let i = 1; i <= ROUNDS; i++) {
  // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
  const order: Name[] = i % 2 === 1 ? ['aedes', 'front-end'] : ['front-end', 'aedes'];
  for (const name of order) rounds[name].push(await measure(name, i));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (name: Name) => ({
  ackedPerSec: median(rounds[name].map((r) => r.ackedPerSec)),
  serverCpuPct: median(rounds[name].map((r) => r.serverCpuPct)),
  serverRssMb: median(rounds[name].map((r) => r.serverRssMb ?? 0)),
  rounds: rounds[name],
});
const aedes = summary('aedes');
const frontEnd = summary('front-end');
const figures = {
  aedes,
  frontEnd,
  ratioFrontEndVsAedes: Number((frontEnd.ackedPerSec / aedes.ackedPerSec).toFixed(2)),
  // Per round, each against the aedes round next to it: the spread of the ratio.
  ratiosPerRound: rounds['front-end'].map((r, i) =>
    Number((r.ackedPerSec / rounds.aedes[i]!.ackedPerSec).toFixed(2)),
  ),
};
await writeResult(
  'front-end-ceiling',
  {
    quick,
    qos: 1,
    durationMs: DURATION,
    warmupMs: WARMUP,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    window: WINDOW,
    load: 'raw-publisher, closed loop, MQTT 3.1.1',
  },
  figures,
  [
    [
      'aedes alone, acked msg/s (server CPU, RSS)',
      `${aedes.ackedPerSec.toLocaleString('en')} (${aedes.serverCpuPct} %, ${aedes.serverRssMb} MB)`,
    ],
    [
      'front end alone, acked msg/s (server CPU, RSS)',
      `${frontEnd.ackedPerSec.toLocaleString('en')} (${frontEnd.serverCpuPct} %, ${frontEnd.serverRssMb} MB)`,
    ],
    ['front end ÷ aedes (median rounds)', `${figures.ratioFrontEndVsAedes}`],
    ['front end ÷ aedes, per round', figures.ratiosPerRound.join(', ')],
  ],
);
