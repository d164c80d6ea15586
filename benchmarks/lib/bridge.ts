// The naive-bridge baseline (servers/naive-bridge.ts on aedes alone), measured like weir: the
// offered rate steps up until the rate into Kafka stops following it. Between steps the bridge
// is given time to catch up, so a step starts without a backlog in the broker.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readReport } from '../../device-sim/report.ts';
import { checkInKafka } from './check.ts';
import { highWatermarks, prepareTopics } from './kafka.ts';
import { BENCH_DIR, startPublisher, startServer } from './procs.ts';
import { kafkaRate, steadyRate } from './rates.ts';

export interface BridgeStep {
  readonly offeredPerSec: number;
  readonly sent: number;
  readonly inKafka: number;
  /** In Kafka ÷ (last append − start). */
  readonly kafkaPerSec: number;
  /** Appends per second while the publisher sent (first second left out). */
  readonly steadyPerSec: number;
  readonly duplicates: number;
  readonly p99LatencyMs: number | null;
  readonly sustained: boolean;
}

export async function measureNaiveBridge(o: {
  dir: string;
  brokers: readonly string[];
  steps: readonly number[];
  stepMs: number;
  connections: number;
  window: number;
  catchUpMs: number;
}) {
  const broker = await startServer({
    args: [path.join(BENCH_DIR, 'servers/aedes-bare.ts')],
    logFile: path.join(o.dir, 'bridge-aedes.log'),
  });
  const port = Number(broker.ready['mqttPort']);
  const topic = `bench.bridge.${randomUUID().slice(0, 8)}`;
  await prepareTopics(o.brokers, [topic]);
  const bridge = await startServer({
    args: [
      path.join(BENCH_DIR, 'servers/naive-bridge.ts'),
      `--broker=mqtt://127.0.0.1:${port}`,
      `--kafka-brokers=${o.brokers.join(',')}`,
      `--topic=${topic}`,
    ],
    logFile: path.join(o.dir, 'bridge.log'),
  });
  const steps: BridgeStep[] = [];
  try {
    for (const rate of o.steps) {
      const from = await highWatermarks(o.brokers, topic);
      const report = path.join(o.dir, `report-bridge-${rate}.json`);
      const p = await startPublisher({
        port,
        connections: o.connections,
        window: o.window,
        rate,
        durationMs: o.stepMs,
        qos: 1,
        idPrefix: `bridge${rate}-${randomUUID().slice(0, 6)}`,
        report,
        logFile: path.join(o.dir, 'publisher-bridge.log'),
      }).done;
      // Let it catch up (bounded): the step's records keep arriving after the publisher stopped.
      const until = Date.now() + o.catchUpMs;
      let to = await highWatermarks(o.brokers, topic);
      const appended = () => [...to].reduce((s, [part, end]) => s + end - (from.get(part) ?? 0), 0);
      while (appended() < p.sent && Date.now() < until) {
        await sleep(250);
        to = await highWatermarks(o.brokers, topic);
      }
      const check = await checkInKafka({
        brokers: o.brokers,
        topic,
        from,
        to,
        reports: [await readReport(report)],
        schemaPath: null,
      });
      const g = check.groups[0]!;
      const kafkaPerSec = kafkaRate(g, p.startedAtMs);
      const step: BridgeStep = {
        offeredPerSec: rate,
        sent: p.sent,
        inKafka: g.received,
        kafkaPerSec,
        steadyPerSec: steadyRate(g.appendsPerSecond, 1, Math.floor(p.sendSeconds)),
        duplicates: g.duplicates,
        p99LatencyMs: g.latencyMs?.p99 ?? null,
        sustained: g.received >= p.sent && kafkaPerSec >= 0.95 * rate,
      };
      steps.push(step);
      process.stderr.write(
        `end-to-end: naive bridge ${rate}/s: into Kafka ${kafkaPerSec}/s (${step.steadyPerSec}/s while sending)${step.sustained ? '' : ' — not sustained'}\n`,
      );
      if (!step.sustained) break;
    }
  } finally {
    await bridge.stop(5000);
    await broker.stop(5000);
  }
  const best = steps.filter((s) => s.sustained).at(-1) ?? null;
  return {
    highestSustainedPerSec: best?.offeredPerSec ?? 0,
    /** The most it delivered in any step: its throughput when saturated. */
    maxKafkaPerSec: Math.max(0, ...steps.map((s) => Math.max(s.kafkaPerSec, s.steadyPerSec))),
    steps,
  };
}
