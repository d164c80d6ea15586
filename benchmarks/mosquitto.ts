// Reference: Debian's mosquitto (C, single-threaded) on the same machine, with the same load
// generator as the ingest ceiling (raw publisher, closed loop, QoS 1), next to aedes alone in the
// same run. Installs mosquitto with apt-get when it is missing and this runs as root (else it says
// how and records that it was not measured).
//
//   node benchmarks/mosquitto.ts [--quick] [--duration MS] [--connections N] [--window K]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { freePort } from '../device-sim/demo/gateway-process.ts';
import { ensureMosquitto } from './lib/mosquitto.ts';
import { num, parseCaseArgs } from './lib/options.ts';
import { BENCH_DIR, cpuSeconds, runDir, type Server, startPublisher, startServer } from './lib/procs.ts';
import { profile } from './lib/profile.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({ duration: { type: 'string' } });
const quick = values.quick;
const DURATION = num(values.duration, quick ? 3000 : 15_000);
const WARMUP = quick ? 1000 : 3000;
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const dir = runDir('mosquitto');
/** The Pi-class profile's memory cap (lib/profile.ts), as mosquitto's own memory_limit. */
const cap = profile().memoryMb;

const found = ensureMosquitto((line) => process.stderr.write(`mosquitto: ${line}\n`));
const config = {
  quick,
  durationMs: DURATION,
  warmupMs: WARMUP,
  connections: CONNECTIONS,
  window: WINDOW,
  qos: 1,
};
if (found === null) {
  process.stderr.write('mosquitto: not installed (as root: apt-get install -y mosquitto); not measured\n');
  await writeResult('mosquitto', config, { measured: false }, [['mosquitto', 'not installed']]);
  process.exit(0);
}
const { bin, version } = found;

async function measure(server: Server, port: number, name: string) {
  const run = (durationMs: number) =>
    startPublisher({
      port,
      connections: CONNECTIONS,
      window: WINDOW,
      rate: 0,
      durationMs,
      qos: 1,
      idPrefix: name,
      logFile: path.join(dir, `publisher-${name}.log`),
    }).done;
  await run(WARMUP);
  const cpu0 = cpuSeconds(server.pid) ?? 0;
  const s = await run(DURATION);
  const cpu = (cpuSeconds(server.pid) ?? 0) - cpu0;
  await server.stop();
  return {
    ackedPerSec: s.ackedPerSec,
    acked: s.acked,
    serverCpuPct: Math.round((100 * cpu) / s.sendSeconds),
  };
}

const port = await freePort();
const conf = path.join(dir, 'mosquitto.conf');
writeFileSync(
  conf,
  `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nset_tcp_nodelay true\n${cap === null ? '' : `memory_limit ${cap * 1024 * 1024}\n`}`,
);
const mosq = await measure(
  await startServer({
    cmd: bin,
    args: ['-c', conf],
    logFile: path.join(dir, 'mosquitto.log'),
    readyPort: port,
  }),
  port,
  'mosquitto',
);
const aedesServer = await startServer({
  args: [path.join(BENCH_DIR, 'servers/aedes-bare.ts')],
  logFile: path.join(dir, 'aedes.log'),
});
const aedes = await measure(aedesServer, Number(aedesServer.ready['mqttPort']), 'aedes');
const ratio = Number((mosq.ackedPerSec / aedes.ackedPerSec).toFixed(2));
await writeResult(
  'mosquitto',
  { ...config, mosquittoVersion: version },
  { measured: true, mosquitto: mosq, aedes, ratioMosquittoVsAedes: ratio },
  [
    [
      `mosquitto ${version ?? ''}, QoS 1 acked msg/s (server CPU)`,
      `${mosq.ackedPerSec.toLocaleString('en')} (${mosq.serverCpuPct} %)`,
    ],
    [
      'aedes alone, same load (server CPU)',
      `${aedes.ackedPerSec.toLocaleString('en')} (${aedes.serverCpuPct} %)`,
    ],
    ['mosquitto ÷ aedes', ratio],
  ],
);
