// End to end: the highest rate weir sustains into the real local Kafka with nothing lost, per
// Kafka client (kafka.client) and QoS. The offered rate steps up (raw publisher, paced, its own
// process) until the acknowledged rate — or the rate at which records reach Kafka — stops
// following it; each step counts only records found in Kafka by the read-back check (per device:
// every acknowledged seq present). In the same run, the baseline: a naive bridge (mqtt.js
// subscriber on aedes, one awaited kafkajs send per message), stepped the same way.
//
//   node benchmarks/end-to-end.ts [--quick] [--clients kafkajs,platformatic,rdkafka]
//     [--steps 10000,20000,...] [--step-ms MS] [--qos 1|0|1,0] [--no-bridge] [--bridge-steps 500,1000,...]
import { measureNaiveBridge } from './lib/bridge.ts';
import { publishRatePerConnection } from './lib/config.ts';
import { openBenchKafka } from './lib/kafka.ts';
import { kafkaClients, kafkaSource, num, parseCaseArgs } from './lib/options.ts';
import { runDir, spoolDrained } from './lib/procs.ts';
import { runStep, type StepResult, startWeir, stepFigures } from './lib/step.ts';
import { writeResult } from './result.ts';

const values = parseCaseArgs({
  steps: { type: 'string' },
  'step-ms': { type: 'string' },
  qos: { type: 'string', default: '1,0' },
  'no-bridge': { type: 'boolean', default: false },
  'bridge-steps': { type: 'string' },
  'warmup-ms': { type: 'string' },
});
const quick = values.quick;
const STEPS = (
  values.steps ?? (quick ? '10000,30000,50000' : '10000,20000,30000,40000,50000,60000,80000,100000,120000')
)
  .split(',')
  .map(Number);
const STEP_MS = num(values['step-ms'], quick ? 3000 : 10_000);
const QOS_LIST = values.qos.split(',').map((q) => (q.trim() === '0' ? 0 : 1)) as Array<0 | 1>;
const CONNECTIONS = num(values.connections, 20);
const WINDOW = num(values.window, 200);
const BRIDGE_STEPS = (
  values['bridge-steps'] ?? (quick ? '500,1000,2000,4000' : '500,1000,2000,3000,4000,6000,8000,12000')
)
  .split(',')
  .map(Number);
const WARMUP = num(values['warmup-ms'], 2000);
const clients = kafkaClients(values.clients);
const dir = runDir('e2e');
/** What an operator expecting this load would set per connection (see lib/config.ts). */
const RATE_PER_CONNECTION = publishRatePerConnection(Math.max(...STEPS), CONNECTIONS);
/** A step is sustained when weir keeps up with at least this share of the offered rate. */
const FOLLOW = 0.95;

const kafka = await openBenchKafka(kafkaSource(values));
const say = (line: string) => process.stderr.write(`end-to-end: ${line}\n`);

function sustained(s: StepResult): boolean {
  const p = s.publisher;
  const keptUp = s.drained && s.kafkaPerSec >= FOLLOW * s.rate;
  if (s.qos === 1) return keptUp && s.kafka.lost === 0 && p.ackedPerSec >= FOLLOW * s.rate;
  return keptUp && p.sentPerSec >= FOLLOW * s.rate && s.kafka.received >= 0.99 * p.sent;
}

try {
  const bridge = values['no-bridge']
    ? null
    : await measureNaiveBridge({
        dir,
        brokers: kafka.brokers,
        steps: BRIDGE_STEPS,
        stepMs: STEP_MS,
        connections: CONNECTIONS,
        window: WINDOW,
        catchUpMs: quick ? 5000 : 15_000,
      });
  const perClient: Record<string, unknown> = {};
  const table: Array<[string, string | number]> = [];
  for (const client of clients) {
    let w: Awaited<ReturnType<typeof startWeir>>;
    try {
      w = await startWeir({
        dir,
        name: `e2e-${client}`,
        brokers: kafka.brokers,
        client,
        ratePerConnection: RATE_PER_CONNECTION,
      });
    } catch (err) {
      perClient[client] = { error: (err as Error).message.slice(0, 500) };
      table.push([`${client}`, 'did not start']);
      continue;
    }
    const byQos: Record<string, unknown> = {};
    // Warm-up: connections to Kafka made, JIT warm; not counted.
    if (WARMUP > 0)
      await runStep(w, {
        tag: `${client}-warm`,
        rate: 5000,
        durationMs: WARMUP,
        qos: 1,
        connections: CONNECTIONS,
        window: WINDOW,
      });
    for (const qos of QOS_LIST) {
      // A step that was not sustained may have left a backlog: start without one.
      await spoolDrained(w.httpPort, 120_000);
      const steps: StepResult[] = [];
      for (const rate of STEPS) {
        const s = await runStep(w, {
          tag: `${client}-q${qos}-${rate}`,
          rate,
          durationMs: STEP_MS,
          qos,
          connections: CONNECTIONS,
          window: WINDOW,
        });
        steps.push(s);
        say(
          `${client} QoS ${qos} ${rate}/s: acked ${s.publisher.ackedPerSec}/s, sent ${s.publisher.sentPerSec}/s, Kafka ${s.kafkaPerSec}/s, ${s.drained ? `lost ${s.kafka.lost}` : `spool not drained, ${s.kafka.lost} not in Kafka yet`}${sustained(s) ? '' : ' — not sustained'}`,
        );
        if (!sustained(s)) break;
      }
      const best = steps.filter(sustained).at(-1) ?? null;
      const lost = steps.filter((s) => s.drained).reduce((a, s) => a + s.kafka.lost, 0);
      byQos[`qos${qos}`] = {
        highestSustainedPerSec: best?.rate ?? 0,
        ackedPerSecAtHighest:
          best === null ? 0 : qos === 1 ? best.publisher.ackedPerSec : best.publisher.sentPerSec,
        kafkaPerSecAtHighest: best?.kafkaPerSec ?? 0,
        /** The most delivered into Kafka in any step, sustained or not. */
        maxKafkaPerSec: Math.max(0, ...steps.filter((s) => s.kafka.lost === 0).map((s) => s.kafkaPerSec)),
        p99LatencyMsAtHighest: best?.kafka.latencyMs?.p99 ?? null,
        lostOverAllSteps: lost,
        steps: steps.map((s) => ({ ...stepFigures(s), sustained: sustained(s) })),
      };
      const ratio =
        qos === 1 && bridge !== null && best !== null && bridge.maxKafkaPerSec > 0
          ? ` (${(best.kafkaPerSec / bridge.maxKafkaPerSec).toFixed(1)}× the naive bridge)`
          : '';
      table.push([
        `${client}, QoS ${qos}: highest step sustained, 0 lost (acked / into Kafka msg/s)`,
        best === null
          ? `none (lowest step ${STEPS[0]}/s not sustained)`
          : `${best.rate.toLocaleString('en')}/s (${(qos === 1 ? best.publisher.ackedPerSec : best.publisher.sentPerSec).toLocaleString('en')} / ${best.kafkaPerSec.toLocaleString('en')})${ratio}`,
      ]);
      if (lost > 0) table.push([`${client}, QoS ${qos}: acknowledged but not in Kafka`, lost]);
    }
    perClient[client] = byQos;
    await w.server.stop();
  }
  if (bridge !== null) {
    table.unshift([
      'naive bridge (aedes + mqtt.js + a kafkajs send per message): highest step sustained / most into Kafka, msg/s',
      `${bridge.highestSustainedPerSec.toLocaleString('en')} / ${bridge.maxKafkaPerSec.toLocaleString('en')}`,
    ]);
  }
  const weirVsBridge = Object.fromEntries(
    Object.entries(perClient).map(([c, r]) => {
      const q1 = (r as { qos1?: { kafkaPerSecAtHighest: number; maxKafkaPerSec: number } }).qos1;
      const ratio = (x: number) =>
        bridge && bridge.maxKafkaPerSec > 0 ? Number((x / bridge.maxKafkaPerSec).toFixed(1)) : null;
      // Sustained: at weir's highest sustained step; most: the most either delivered in any step.
      return [
        c,
        q1 === undefined
          ? null
          : { sustained: ratio(q1.kafkaPerSecAtHighest), most: ratio(q1.maxKafkaPerSec) },
      ];
    }),
  );
  await writeResult(
    'end-to-end',
    {
      quick,
      clients,
      steps: STEPS,
      stepMs: STEP_MS,
      qos: QOS_LIST,
      connections: CONNECTIONS,
      window: WINDOW,
      follow: FOLLOW,
      spool: 'on (QoS 1 PUBACK after fsync)',
      load: 'raw-publisher, paced',
      publishRatePerConnection: RATE_PER_CONNECTION,
      kafkaHeapMb: 1024,
    },
    { naiveBridge: bridge, clients: perClient, weirVsNaiveBridge: weirVsBridge },
    table,
    loadAndConfig(),
  );
} finally {
  await kafka.close();
}

/** The load and the gateway config, said with the result: they decide what a run can show. */
function loadAndConfig(): string {
  const n = (x: number) => x.toLocaleString('en');
  return [
    `Load: the raw publisher, ${CONNECTIONS} connections × window ${WINDOW} (QoS 1: at most ${WINDOW}`,
    `unacknowledged per connection), paced over all connections in 1 ms ticks; steps ${STEPS.map(n).join(', ')} msg/s,`,
    `${n(STEP_MS)} ms each after a ${n(WARMUP)} ms warm-up, one weir per client kept across steps (a backlog`,
    'a step leaves is drained before the next QoS), the spool on (QoS 1 PUBACK after fsync).',
    '',
    `Gateway config: \`mqtt.limits.publishRate.ratePerSecond: ${RATE_PER_CONNECTION}\` per connection — 1.5 × the`,
    `highest step's rate of one connection. The default (and \`deploy/weir.example.yaml\`'s) 1,000 msg/s`,
    `would hold these ${CONNECTIONS} connections to ${n(1000 * CONNECTIONS)} msg/s in all (after a 2,000-message burst`,
    'each): an operator whose devices each publish faster raises it, as here. Everything else at the',
    'defaults; one route, factory-line telemetry (~200-byte JSON → Avro).',
  ].join('\n');
}
