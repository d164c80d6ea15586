// Kafka outage: weir's memory (RSS) before, during and after Kafka is gone, at a fixed offered
// rate (QoS 1, spool on), and how fast the backlog drains once Kafka is back; afterwards every
// acknowledged message is checked to be in Kafka. The outage stops the broker (connections
// refused; `--mode freeze` SIGSTOPs its JVM instead: a hang). Load: the raw publisher, paced, in
// its own process, running through all phases. weir runs with the V8 flags it is deployed with.
//
//   node benchmarks/outage.ts [--quick] [--rate 10000] [--outage-ms 120000] [--mode stop|freeze]
//     [--client platformatic]
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readReport } from '../device-sim/report.ts';
import { checkInKafka } from './lib/check.ts';
import { FACTORY_SCHEMA } from './lib/config.ts';
import { highWatermarks, openBenchKafka } from './lib/kafka.ts';
import { kafkaSource, num, parseCaseArgs } from './lib/options.ts';
import { DEPLOYED_NODE_FLAGS, rssMb, runDir, scrape, spoolDrained, startPublisher } from './lib/procs.ts';
import { runStep, startWeir } from './lib/step.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({
  rate: { type: 'string' },
  'before-ms': { type: 'string' },
  'outage-ms': { type: 'string' },
  'after-ms': { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  mode: { type: 'string', default: 'stop' },
  client: { type: 'string', default: 'platformatic' },
});
const quick = values.quick;
const RATE = num(values.rate, quick ? 5000 : 10_000);
const BEFORE = num(values['before-ms'], quick ? 8000 : 30_000);
const OUTAGE = num(values['outage-ms'], quick ? 15_000 : 120_000);
const AFTER = num(values['after-ms'], quick ? 5000 : 20_000);
const DRAIN_TIMEOUT = num(values['drain-timeout-ms'], quick ? 90_000 : 600_000);
const MODE = values.mode === 'freeze' ? 'freeze' : 'stop';
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const dir = runDir('outage');
const kafka = await openBenchKafka(kafkaSource(values));
const say = (line: string) => process.stderr.write(`outage: ${line}\n`);

type Phase = 'before' | 'outage' | 'drain' | 'after';
interface Sample {
  readonly t: number;
  readonly phase: Phase;
  readonly rssMb: number | null;
  readonly spoolRecords: number | null;
  readonly kafkaRecords: number | null;
  /** V8 heap in use and memory held outside it (Buffers), MB: where the RSS goes. */
  readonly heapUsedMb: number | null;
  readonly externalMb: number | null;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round(bytes / 1024 ** 2));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s[Math.floor(s.length / 2)]!;
};

try {
  const w = await startWeir({
    dir,
    name: `outage-${values.client}`,
    brokers: kafka.brokers,
    client: values.client,
    nodeFlags: DEPLOYED_NODE_FLAGS, // RSS as the deployed service has it
  });
  await runStep(w, {
    tag: 'warm',
    rate: 5000,
    durationMs: 2000,
    qos: 1,
    connections: CONNECTIONS,
    window: WINDOW,
  });
  const from = await highWatermarks(kafka.brokers, w.topic);
  const report = path.join(dir, 'report-outage.json');
  const publisher = startPublisher({
    port: w.mqttPort,
    connections: CONNECTIONS,
    window: WINDOW,
    rate: RATE,
    durationMs: 0,
    qos: 1,
    idPrefix: `outage-${randomUUID().slice(0, 6)}`,
    report,
    logFile: path.join(dir, 'publisher.log'),
    drainTimeoutMs: 60_000,
  });
  const t0 = Date.now();
  let phase: Phase = 'before';
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    const p = phase;
    const rss = rssMb(w.server.pid);
    void scrape(w.httpPort, [
      'weir_spool_records',
      'weir_kafka_records_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
    ])
      .catch(() => ({}) as Record<string, number>)
      .then((m) =>
        samples.push({
          t: Date.now() - t0,
          phase: p,
          rssMb: rss,
          spoolRecords: m['weir_spool_records'] ?? null,
          kafkaRecords: m['weir_kafka_records_total'] ?? null,
          heapUsedMb: mb(m['nodejs_heap_size_used_bytes']),
          externalMb: mb(m['nodejs_external_memory_bytes']),
        }),
      );
  }, 1000);

  await sleep(BEFORE);
  phase = 'outage';
  const outageStart = Date.now();
  say(`Kafka ${MODE === 'stop' ? 'stopped' : 'frozen'} for ${OUTAGE / 1000} s`);
  await (MODE === 'stop' ? kafka.stopBroker() : kafka.freeze());
  await sleep(Math.max(0, OUTAGE - (Date.now() - outageStart)));
  await (MODE === 'stop' ? kafka.startBroker() : kafka.thaw());
  const recoveredAt = Date.now();
  phase = 'drain';
  say(`Kafka back after ${((recoveredAt - outageStart) / 1000).toFixed(1)} s; draining`);
  const kafkaAtRecovery =
    (await scrape(w.httpPort, ['weir_kafka_records_total']))['weir_kafka_records_total'] ?? 0;
  // Drained: less than a second of traffic left in the spool.
  const drained = await spoolDrained(w.httpPort, DRAIN_TIMEOUT, Math.max(1000, RATE));
  const drainedAt = Date.now();
  const kafkaAtDrained =
    (await scrape(w.httpPort, ['weir_kafka_records_total']))['weir_kafka_records_total'] ?? 0;
  phase = 'after';
  say(`drained in ${((drainedAt - recoveredAt) / 1000).toFixed(1)} s`);
  await sleep(AFTER);
  clearInterval(sampler);
  publisher.stop();
  const summary = await publisher.done;
  // Everything acknowledged must be in Kafka once the spool has drained; before that, what is
  // missing is still on its way (reported as such, not as lost).
  const finalDrained = await spoolDrained(w.httpPort, DRAIN_TIMEOUT);
  const check = await checkInKafka({
    brokers: kafka.brokers,
    topic: w.topic,
    from,
    to: await highWatermarks(kafka.brokers, w.topic),
    reports: [await readReport(report)],
    schemaPath: FACTORY_SCHEMA,
  });
  await w.server.stop();
  const g = check.groups[0]!;

  const rssOf = (p: Phase) => samples.filter((s) => s.phase === p && s.rssMb !== null).map((s) => s.rssMb!);
  const during = rssOf('outage');
  const outageSamples = samples.filter((s) => s.phase === 'outage' && s.rssMb !== null);
  // The second half of the outage: after the in-memory buffers have filled, memory should be flat.
  const half = outageSamples.slice(Math.floor(outageSamples.length / 2));
  const slope =
    half.length >= 2
      ? ((half.at(-1)!.rssMb! - half[0]!.rssMb!) / (half.at(-1)!.t - half[0]!.t)) * 60_000
      : null;
  const backlog = Math.max(0, ...samples.map((s) => s.spoolRecords ?? 0));
  const drainSeconds = (drainedAt - recoveredAt) / 1000;
  const figures = {
    offeredPerSec: RATE,
    outageSeconds: Number(((recoveredAt - outageStart) / 1000).toFixed(1)),
    rssMb: {
      before: median(rssOf('before')),
      outageStart: during[0] ?? null,
      outageEnd: during.at(-1) ?? null,
      outageMax: during.length > 0 ? Math.max(...during) : null,
      outageSecondHalfSlopeMbPerMin: slope === null ? null : Number(slope.toFixed(1)),
      drainMax: Math.max(0, ...rssOf('drain')),
      after: median(rssOf('after')),
      /** Of which, at the end of the outage: the V8 heap in use, and memory outside it. */
      outageEndHeapUsed: outageSamples.at(-1)?.heapUsedMb ?? null,
      outageEndExternal: outageSamples.at(-1)?.externalMb ?? null,
    },
    backlogRecords: backlog,
    drained,
    drainSeconds: Number(drainSeconds.toFixed(1)),
    /** Records delivered to Kafka per second while catching up (backlog + live traffic). */
    drainDeliveredPerSec: Math.round((kafkaAtDrained - kafkaAtRecovery) / Math.max(0.001, drainSeconds)),
    /** Backlog ÷ drain time: how fast the backlog itself shrank. */
    drainNetPerSec: Math.round(backlog / Math.max(0.001, drainSeconds)),
    publisher: {
      sent: summary.sent,
      acked: summary.acked,
      ackedPerSec: summary.ackedPerSec,
      skipped: summary.skipped,
    },
    inKafka: g.received,
    lost: finalDrained && check.complete ? g.lost : null,
    notInKafkaWhenChecked: g.lost,
    duplicates: g.duplicates,
    outOfOrder: g.outOfOrder,
    samples,
  };
  const r = figures.rssMb;
  await writeResult(
    'outage',
    {
      quick,
      client: values.client,
      mode: MODE,
      nodeFlags: DEPLOYED_NODE_FLAGS,
      rate: RATE,
      beforeMs: BEFORE,
      outageMs: OUTAGE,
      afterMs: AFTER,
      connections: CONNECTIONS,
      window: WINDOW,
      qos: 1,
      spool: 'on',
      load: 'raw-publisher, paced',
    },
    figures,
    [
      [
        'offered QoS 1 msg/s (acked msg/s overall)',
        `${RATE.toLocaleString('en')} (${summary.ackedPerSec.toLocaleString('en')})`,
      ],
      [`Kafka outage (${MODE})`, `${figures.outageSeconds} s`],
      [
        'weir RSS MB before / outage start / outage end / max / after',
        `${r.before} / ${r.outageStart} / ${r.outageEnd} / ${r.outageMax} / ${r.after}`,
      ],
      ['RSS slope, 2nd half of the outage, MB/min', `${r.outageSecondHalfSlopeMbPerMin}`],
      ['V8 heap used / external MB at the outage end', `${r.outageEndHeapUsed} / ${r.outageEndExternal}`],
      ['backlog at recovery, records', backlog.toLocaleString('en')],
      [
        'drain time s (delivered / net msg/s)',
        `${figures.drainSeconds}${drained ? '' : ' (not drained!)'} (${figures.drainDeliveredPerSec.toLocaleString('en')} / ${figures.drainNetPerSec.toLocaleString('en')})`,
      ],
      [
        'acknowledged, in Kafka, lost',
        `${summary.acked.toLocaleString('en')}, ${g.received.toLocaleString('en')}, ${g.lost}`,
      ],
    ],
  );
} finally {
  await kafka.close();
}
