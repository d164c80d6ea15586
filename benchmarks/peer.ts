// The peer: what a user would set up instead of weir to get MQTT devices into Kafka — Debian's
// mosquitto as the broker and Telegraf (inputs.mqtt_consumer → outputs.kafka) as the bridge — and
// weir, side by side in one run: the same raw publisher load (paced steps, QoS 1), the same Kafka,
// a fresh topic and freshly started processes for every step and system (the two take turns
// going first). For each: acknowledged rate at the device, records found in Kafka by the
// read-back check (lost = acknowledged but not in Kafka, duplicates), publish → Kafka latency,
// the RSS of all its processes (mosquitto + Telegraf summed) and its CPU seconds per 1,000
// messages; and the highest step each sustains with nothing lost.
//
// mosquitto is installed with apt-get when missing (as root); Telegraf is built once from the Go
// module proxy with only the plugins used (lib/telegraf.ts). The Markdown says what each
// acknowledgement means.
//
//   node benchmarks/peer.ts [--quick] [--pi] [--steps 2000,5000,...] [--step-ms MS] [--client C]
//     [--systems weir,peer] [--max-undelivered N] [--drain-timeout-ms MS]
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../device-sim/demo/gateway-process.ts';
import { DEFAULT_KAFKA_CLIENT } from '../gateway/config/schema.ts';
import { highWatermarks, openBenchKafka, prepareTopics } from './lib/kafka.ts';
import { ensureMosquitto, type StoreWatch, watchStore } from './lib/mosquitto.ts';
import { kafkaSource, num, parseCaseArgs } from './lib/options.ts';
import { DEPLOYED_NODE_FLAGS, type ProcessUse, runDir, startServer, watchProcesses } from './lib/procs.ts';
import { profile } from './lib/profile.ts';
import { steadyRate } from './lib/rates.ts';
import { runStep, type StepResult, startWeir, stepFigures, type UnderTest } from './lib/step.ts';
import {
  ensureTelegraf,
  TELEGRAF_VERSION,
  type TelegrafSettings,
  writeTelegrafConfig,
} from './lib/telegraf.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({
  steps: { type: 'string' },
  'step-ms': { type: 'string' },
  'warmup-ms': { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  client: { type: 'string', default: DEFAULT_KAFKA_CLIENT },
  systems: { type: 'string', default: 'weir,peer' },
  'max-undelivered': { type: 'string' },
});
const quick = values.quick;
const STEPS = (values.steps ?? (quick ? '2000,10000,30000' : '2000,5000,10000,20000,30000,50000'))
  .split(',')
  .map(Number);
const STEP_MS = num(values['step-ms'], quick ? 4000 : 20_000);
const WARMUP_MS = num(values['warmup-ms'], quick ? 1000 : 2000);
const DRAIN_MS = num(values['drain-timeout-ms'], quick ? 60_000 : 120_000);
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const SYSTEMS = values.systems.split(',').map((s) => s.trim()) as Array<'weir' | 'peer'>;
const TELEGRAF: TelegrafSettings = {
  maxUndeliveredMessages: num(values['max-undelivered'], 10_000),
  metricBatchSize: 1000,
  metricBufferLimit: 100_000,
  flushIntervalMs: 1000,
};
/** A step is sustained when acknowledged and into-Kafka rates are both at least this share of the offered rate. */
const FOLLOW = 0.95;
/** mosquitto's $SYS interval is 1 s: held nothing this long means nothing is left in it. */
const EMPTY_FOR_MS = 3000;
const dir = runDir('peer');
const say = (line: string) => process.stderr.write(`peer: ${line}\n`);
const cap = profile().memoryMb;

/** One system, started for one step. */
interface Running {
  readonly target: UnderTest;
  /** Its processes and their names (the RSS and CPU of all of them are summed). */
  readonly processes: ReadonlyArray<readonly [string, number]>;
  /** Called after the warm-up: what follows is measured. */
  measuring(): void;
  /** The most messages its broker held unacknowledged while measured (the peer: mosquitto). */
  brokerBacklog(): number | null;
  stop(): Promise<void>;
  /** What its logs tell that the figures do not (read after stop()). */
  problems(): string[];
}

interface System {
  readonly name: 'weir' | 'peer';
  readonly label: string;
  start(tag: string): Promise<Running>;
}

const mosquitto = SYSTEMS.includes('peer') ? ensureMosquitto((l) => say(`mosquitto: ${l}`)) : null;
const telegraf = SYSTEMS.includes('peer') ? ensureTelegraf(say) : null;

function mosquittoConfig(port: number): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'set_tcp_nodelay true',
    // $SYS every second: how many messages it holds that Telegraf has not acknowledged.
    'sys_interval 1',
    // Telegraf acknowledges a message only once Kafka has it: room for as many as it may hold
    // (the default, 20, stalls it).
    `max_inflight_messages ${TELEGRAF.maxUndeliveredMessages}`,
    // The default (1,000 queued per client) drops what is beyond it — after the publisher had its
    // PUBACK. No limit: the backlog grows in RAM instead.
    'max_queued_messages 0',
    ...(cap === null ? [] : [`memory_limit ${Math.floor(cap / 2) * 1024 * 1024}`]),
    '',
  ].join('\n');
}

const weir: System = {
  name: 'weir',
  label: `weir (${values.client})`,
  async start(tag) {
    const w = await startWeir({
      dir,
      name: `peer-weir-${tag}`,
      brokers: kafka.brokers,
      client: values.client,
      nodeFlags: DEPLOYED_NODE_FLAGS, // RSS as the deployed service has it
    });
    return {
      target: w,
      processes: [['weir', w.server.pid]],
      measuring: () => {},
      brokerBacklog: () => null,
      stop: async () => {
        await w.server.stop();
      },
      problems: () => [],
    };
  },
};

const peer: System = {
  name: 'peer',
  label: `mosquitto ${mosquitto?.version ?? ''} + Telegraf ${TELEGRAF_VERSION}`,
  async start(tag) {
    if (mosquitto === null)
      throw new Error('mosquitto is not installed (as root: apt-get install -y mosquitto)');
    if (telegraf === null || 'error' in telegraf) throw new Error(telegraf?.error ?? 'no Telegraf');
    const topic = `bench.peer-telegraf.${tag}.${randomUUID().slice(0, 8)}`;
    await prepareTopics(kafka.brokers, [topic]);
    const port = await freePort();
    const mosqConf = path.join(dir, `mosquitto-${tag}.conf`);
    writeFileSync(mosqConf, mosquittoConfig(port));
    const mosqLog = path.join(dir, `mosquitto-${tag}.log`);
    const telegrafLog = path.join(dir, `telegraf-${tag}.log`);
    const broker = await startServer({
      cmd: mosquitto.bin,
      args: ['-c', mosqConf],
      logFile: mosqLog,
      readyPort: port,
    });
    let store: StoreWatch | null = null;
    try {
      store = await watchStore(port);
      const telegrafConf = path.join(dir, `telegraf-${tag}.conf`);
      writeTelegrafConfig({
        file: telegrafConf,
        mqttPort: port,
        brokers: kafka.brokers,
        topic,
        settings: TELEGRAF,
      });
      const bridge = await startServer({
        cmd: telegraf.bin,
        args: ['--config', telegrafConf],
        logFile: telegrafLog,
        readyLine: /mqtt_consumer\] Connected/,
        ...(cap !== null && { env: { GOMEMLIMIT: `${Math.floor(cap / 2)}MiB` } }),
      });
      const s = store;
      return {
        target: {
          mqttPort: port,
          topic,
          brokers: kafka.brokers,
          dir,
          schemaPath: null,
          delivered: (o) => peerDelivered(s, topic, o),
        },
        processes: [
          ['mosquitto', broker.pid],
          ['telegraf', bridge.pid],
        ],
        measuring: () => s.resetMax(),
        brokerBacklog: () => s.maxHeld(),
        stop: async () => {
          await s.close().catch(() => {});
          await bridge.stop(15_000);
          await broker.stop(5000);
        },
        problems: () => {
          const out: string[] = [];
          const oom = countLines(mosqLog, /Out of memory/);
          if (oom > 0) out.push(`mosquitto out of memory ×${oom}`);
          const lost = countLines(telegrafLog, /connection lost/);
          if (lost > 0) out.push(`Telegraf lost its MQTT connection ×${lost}`);
          return out;
        },
      };
    } catch (err) {
      await store?.close().catch(() => {});
      await broker.stop(5000);
      throw err;
    }
  },
};

/**
 * The peer has handed everything on once Kafka has as many records as the publisher had
 * acknowledgements, or once mosquitto has held nothing for a while (longer than its $SYS
 * interval): Telegraf acknowledges a message to mosquitto only after Kafka has it, so nothing more
 * is coming and what is missing is lost.
 */
async function peerDelivered(
  store: StoreWatch,
  topic: string,
  o: { from: ReadonlyMap<number, number>; publisher: { acked: number }; timeoutMs: number },
): Promise<boolean> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const to = await highWatermarks(kafka.brokers, topic);
    const appended = [...to].reduce((s, [part, end]) => s + end - (o.from.get(part) ?? 0), 0);
    if (appended >= o.publisher.acked) return true;
    const empty = store.emptySince();
    if (empty !== null && Date.now() - empty > EMPTY_FOR_MS) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

function countLines(file: string, pattern: RegExp): number {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => pattern.test(l)).length;
  } catch {
    return 0;
  }
}

interface Measured {
  readonly step: StepResult;
  readonly use: ProcessUse;
  readonly processes: readonly string[];
  readonly brokerBacklog: number | null;
  readonly load1m: number;
  readonly problems: readonly string[];
}

/**
 * Records into Kafka per second: found ÷ time from the step's start to the last append, or appends
 * per second while the publisher sent (its first second left out), whichever is higher — as for
 * the naive bridge — so a last batch waiting for its flush after the load stopped (Telegraf: up to
 * flush_interval) counts against latency, not throughput.
 */
function intoKafkaPerSec(s: StepResult): number {
  return Math.max(
    s.kafkaPerSec,
    steadyRate(s.kafka.appendsPerSecond, 1, Math.floor(s.publisher.sendSeconds)),
  );
}

function sustained(m: Measured): boolean {
  const s = m.step;
  return (
    s.drained &&
    s.kafka.lost === 0 &&
    s.publisher.ackedPerSec >= FOLLOW * s.rate &&
    intoKafkaPerSec(s) >= FOLLOW * s.rate
  );
}

async function measure(system: System, rate: number): Promise<Measured> {
  const tag = `${system.name}-${rate}`;
  const run = await system.start(tag);
  let measured: Omit<Measured, 'problems'>;
  try {
    const load = { qos: 1 as const, connections: CONNECTIONS, window: WINDOW, drainTimeoutMs: DRAIN_MS };
    if (WARMUP_MS > 0)
      await runStep(run.target, {
        ...load,
        tag: `${tag}-warm`,
        rate: Math.min(rate, 5000),
        durationMs: WARMUP_MS,
      });
    run.measuring();
    const load1m = Math.round(os.loadavg()[0]! * 100) / 100;
    const watch = watchProcesses(run.processes.map(([, pid]) => pid));
    let use: ProcessUse | null = null;
    // CPU and RSS up to the moment everything is in Kafka, not through the read-back check.
    const target: UnderTest = {
      ...run.target,
      delivered: async (o) => {
        const done = await run.target.delivered(o);
        use = watch.stop();
        return done;
      },
    };
    const step = await runStep(target, { ...load, tag, rate, durationMs: STEP_MS });
    measured = {
      step,
      use: use ?? watch.stop(),
      processes: run.processes.map(([name]) => name),
      brokerBacklog: run.brokerBacklog(),
      load1m,
    };
  } finally {
    await run.stop();
  }
  return { ...measured, problems: run.problems() };
}

function figures(m: Measured) {
  const inKafka = m.step.kafka.received;
  return {
    ...stepFigures(m.step),
    /** Found ÷ time to the last append (stepFigures' kafkaPerSec), or while sending if higher. */
    intoKafkaPerSec: intoKafkaPerSec(m.step),
    sustained: sustained(m),
    rssMaxMb: m.use.rssMaxMb,
    rssMedianMb: m.use.rssMedianMb,
    rssMaxMbEach: Object.fromEntries(m.processes.map((name, i) => [name, m.use.rssMaxMbEach[i]])),
    cpuSeconds: m.use.cpuSeconds,
    cpuSecondsPer1000: inKafka > 0 ? Number(((1000 * m.use.cpuSeconds) / inKafka).toFixed(3)) : null,
    brokerBacklogMax: m.brokerBacklog,
    problems: m.problems,
    loadAverage1mAtStart: m.load1m,
  };
}
type Figures = ReturnType<typeof figures>;

const kafka = await openBenchKafka(kafkaSource(values));
try {
  const systems = [weir, peer].filter((s) => SYSTEMS.includes(s.name));
  const results: Record<string, Record<string, Figures | { error: string }>> = Object.fromEntries(
    systems.map((s) => [s.name, {}]),
  );
  for (const [i, rate] of STEPS.entries()) {
    // Take turns going first, so neither always runs on the machine the other just warmed up.
    for (const system of i % 2 === 0 ? systems : [...systems].reverse()) {
      try {
        const f = figures(await measure(system, rate));
        results[system.name]![rate] = f;
        say(
          `${system.name} ${rate}/s (load ${f.loadAverage1mAtStart}): acked ${f.ackedPerSec}/s, Kafka ${f.intoKafkaPerSec}/s, ` +
            `${f.drained ? `lost ${f.lost}` : `not all in Kafka (${f.notInKafkaWhenChecked} missing)`}, dup ${f.duplicates}, ` +
            `p99 ${f.latencyMs?.p99 ?? '-'} ms, RSS ${f.rssMaxMb} MB, CPU ${f.cpuSecondsPer1000} s/1k${f.sustained ? '' : ' — not sustained'}`,
        );
      } catch (err) {
        results[system.name]![rate] = { error: (err as Error).message.slice(0, 500) };
        say(`${system.name} ${rate}/s failed: ${(err as Error).message.slice(0, 300)}`);
      }
    }
  }
  await report(systems, results);
} finally {
  await kafka.close();
}

async function report(
  systems: readonly System[],
  results: Record<string, Record<string, Figures | { error: string }>>,
): Promise<void> {
  const measured = (name: string, rate: number): Figures | null => {
    const f = results[name]?.[rate];
    return f === undefined || 'error' in f ? null : f;
  };
  const summary = Object.fromEntries(
    systems.map((s) => {
      const steps = STEPS.map((r) => measured(s.name, r)).filter((f) => f !== null);
      // The highest step sustained. Lower steps that were not are named beside it: on a shared
      // machine a low step can miss for a moment of load that a higher one did not meet.
      const best = steps.filter((f) => f.sustained).at(-1) ?? null;
      const missedBelow = steps
        .filter((f) => !f.sustained && f.offeredPerSec < (best?.offeredPerSec ?? 0))
        .map((f) => f.offeredPerSec);
      const rss = steps.map((f) => f.rssMaxMb).filter((x) => x !== null);
      return [
        s.name,
        {
          label: s.label,
          highestSustainedPerSec: best?.offeredPerSec ?? 0,
          lowerStepsNotSustained: missedBelow,
          kafkaPerSecAtHighest: best?.intoKafkaPerSec ?? 0,
          maxKafkaPerSec: Math.max(0, ...steps.filter((f) => f.lost === 0).map((f) => f.intoKafkaPerSec)),
          lostOverAllSteps: steps.reduce((a, f) => a + (f.lost ?? 0), 0),
          rssMaxMbRange: rss.length === 0 ? null : [Math.min(...rss), Math.max(...rss)],
        },
      ];
    }),
  );
  const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 2) =>
    a == null || b == null || b === 0 ? null : Number((a / b).toFixed(digits));
  const w = summary['weir'];
  const p = summary['peer'];
  const sameStep = STEPS.map((rate) => {
    const a = measured('weir', rate);
    const b = measured('peer', rate);
    return {
      offeredPerSec: rate,
      rssWeirVsPeer: ratio(a?.rssMaxMb, b?.rssMaxMb),
      cpuPerMessageWeirVsPeer: ratio(a?.cpuSecondsPer1000, b?.cpuSecondsPer1000),
      p99WeirMs: a?.latencyMs?.p99 ?? null,
      p99PeerMs: b?.latencyMs?.p99 ?? null,
    };
  });
  const sustainedWeirVsPeer = ratio(w?.highestSustainedPerSec, p?.highestSustainedPerSec);

  const table: Array<[string, string | number]> = systems.map((s) => {
    const x = summary[s.name]!;
    return [
      `${s.label}: highest step sustained, 0 lost (into Kafka msg/s there; most into Kafka in any step)`,
      `${x.highestSustainedPerSec.toLocaleString('en')}/s (${x.kafkaPerSecAtHighest.toLocaleString('en')}; ${x.maxKafkaPerSec.toLocaleString('en')})` +
        (x.lowerStepsNotSustained.length === 0
          ? ''
          : `; lower steps not sustained: ${x.lowerStepsNotSustained.map((r) => r.toLocaleString('en')).join(', ')}`),
    ];
  });
  if (w !== undefined && p !== undefined) {
    table.push(['weir ÷ peer, highest sustained step', sustainedWeirVsPeer ?? '-']);
  }
  for (const s of systems) {
    const x = summary[s.name]!;
    table.push([
      `${s.label}: RSS, most in a step (lowest – highest step), MB`,
      x.rssMaxMbRange === null ? '-' : `${x.rssMaxMbRange[0]} – ${x.rssMaxMbRange[1]}`,
    ]);
    if (x.lostOverAllSteps > 0) table.push([`${s.label}: acknowledged but not in Kafka`, x.lostOverAllSteps]);
  }

  const fmt = (n: number | null | undefined) => (n == null ? '-' : n.toLocaleString('en'));
  const rows = STEPS.flatMap((rate) =>
    systems.map((s) => {
      const r = results[s.name]?.[rate];
      if (r === undefined) return `| ${fmt(rate)} | ${s.name} | not run ||||||||||`;
      if ('error' in r)
        return `| ${fmt(rate)} | ${s.name} | failed: ${r.error.replace(/\|/g, '/').slice(0, 120)} ||||||||||`;
      const l = r.latencyMs;
      const lost = r.drained
        ? fmt(r.lost)
        : `${fmt(r.notInKafkaWhenChecked)} not in Kafka after ${DRAIN_MS / 1000} s`;
      return (
        `| ${fmt(rate)} | ${s.name} | ${fmt(r.ackedPerSec)} | ${fmt(r.intoKafkaPerSec)} | ${lost} | ${fmt(r.duplicates)} | ` +
        `${l === null ? '-' : `${l.p50} / ${l.p99}`} | ${fmt(r.rssMaxMb)} (${fmt(r.rssMedianMb)}) | ${r.cpuSecondsPer1000 ?? '-'} | ` +
        `${r.brokerBacklogMax === null ? '-' : fmt(r.brokerBacklogMax)} | ${r.loadAverage1mAtStart} | ${r.sustained ? 'yes' : 'no'} | ${r.problems.join('; ')} |`
      );
    }),
  );
  const extra = [
    `Each step: ${STEP_MS / 1000} s of paced QoS 1 load (raw publisher, ${CONNECTIONS} connections × window ${WINDOW}),`,
    `after a ${WARMUP_MS / 1000} s warm-up, into a fresh topic of one local Kafka, each system started afresh.`,
    `RSS: all of the system's processes summed (peer: mosquitto + Telegraf), sampled every 0.5 s from the`,
    `step's start until everything was in Kafka; CPU likewise (user + system, all its processes) ÷ records in Kafka.`,
    `Held in broker: the most messages mosquitto held that Telegraf had not acknowledged ($SYS).`,
    'Into Kafka: records found ÷ time from the step’s start to the last append, or appends per second while',
    'the publisher sent (first second left out) when higher, so a last batch waiting for its flush counts in latency only.',
    'Load: the 1-minute load average of the (shared) machine when the step began.',
    `Telegraf: \`metric_batch_size\` ${fmt(TELEGRAF.metricBatchSize)} (its default; a batch is written when full or every`,
    `\`flush_interval\`, ${TELEGRAF.flushIntervalMs / 1000} s here, 10 s by default — at low rates its latency is mostly a batch filling),`,
    `\`metric_buffer_limit\` ${fmt(TELEGRAF.metricBufferLimit)}, \`max_undelivered_messages\` ${fmt(TELEGRAF.maxUndeliveredMessages)}.`,
    '',
    '| offered msg/s | system | acked msg/s | into Kafka msg/s | lost | duplicates | p50 / p99 ms | RSS MB, most (median) | CPU s per 1,000 msgs | held in broker, most | load | sustained | seen in the logs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '**What an acknowledgement means.**',
    '',
    '- *weir*: the device gets its PUBACK once the message is in weir’s spool on disk and fsync’d (group',
    '  commit); the forwarder hands it to Kafka afterwards (acks from all in-sync replicas) and only then may',
    '  the spool drop it. A crash, power loss or Kafka outage after the PUBACK loses nothing acknowledged.',
    '- *peer*: mosquitto sends the PUBACK as soon as the message is in its RAM (persistence off here; with',
    '  `persistence true` it writes its store every `autosave_interval`, 30 min by default, so never before',
    '  the PUBACK). Telegraf, subscribed with `persistent_session = true` (auto-acknowledgement off) and a',
    '  fixed client id, acknowledges each message to mosquitto only once the Kafka output wrote it with',
    '  `required_acks = -1`; a Telegraf crash therefore loses nothing, but a mosquitto crash or power loss',
    '  loses every message acknowledged to a device and not yet in Kafka — at rates above what Telegraf',
    '  forwards, a backlog that grows in mosquitto’s RAM (column *held in broker*). With mosquitto’s',
    '  defaults it would also lose messages without a crash: `max_queued_messages` 1,000 drops what is',
    '  beyond it after the PUBACK, and `max_inflight_messages` 20 stalls Telegraf, which acknowledges late;',
    `  here they are 0 (no limit) and ${fmt(TELEGRAF.maxUndeliveredMessages)} (Telegraf's \`max_undelivered_messages\`).`,
    '- Telegraf writes JSON (its metric: fields, tags, name, timestamp): it has no Avro serializer, so the',
    '  peer does not do weir’s JSON → Avro step and its records are larger.',
  ].join('\n');

  await writeResult(
    'peer',
    {
      quick,
      steps: STEPS,
      stepMs: STEP_MS,
      warmupMs: WARMUP_MS,
      drainTimeoutMs: DRAIN_MS,
      qos: 1,
      connections: CONNECTIONS,
      window: WINDOW,
      follow: FOLLOW,
      load: 'raw-publisher, paced',
      weir: { kafkaClient: values.client, spool: 'on (QoS 1 PUBACK after fsync)' },
      peer: {
        mosquitto: mosquitto?.version ?? null,
        telegraf: TELEGRAF_VERSION,
        telegrafSettings: TELEGRAF,
        telegrafBuild:
          'go install -tags "custom,inputs.mqtt_consumer,outputs.kafka,parsers.json,serializers.json"',
        mosquittoSettings: {
          maxInflightMessages: TELEGRAF.maxUndeliveredMessages,
          maxQueuedMessages: 0,
          persistence: false,
        },
        kafkaOutput: { requiredAcks: -1, dataFormat: 'json', routingTag: 'machineId' },
      },
      kafkaHeapMb: 1024,
    },
    { summary, sustainedWeirVsPeer, sameStep, steps: results },
    table,
    extra,
  );
}
