// One measured run into the real Kafka: weir (a child process) with a Kafka sink — or another
// system that takes MQTT in and writes to Kafka (the peer case's mosquitto + Telegraf) — the raw
// publisher (another child process) at a fixed rate, then, once the system has handed everything
// it accepted to Kafka (weir: its spool holds nothing Kafka has not acknowledged), the read-back
// check of exactly the records appended since the run began.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { readReport } from '../../device-sim/report.ts';
import { checkInKafka, type GroupResult } from './check.ts';
import { FACTORY_SCHEMA, writeGatewayConfig } from './config.ts';
import { highWatermarks, prepareTopics } from './kafka.ts';
import {
  BENCH_DIR,
  type PublisherSummary,
  type Server,
  spoolDrained,
  startPublisher,
  startServer,
} from './procs.ts';
import { kafkaRate } from './rates.ts';

/** A system under test: MQTT in on `mqttPort`, the publisher's messages out to `topic`. */
export interface UnderTest {
  readonly mqttPort: number;
  readonly topic: string;
  readonly brokers: readonly string[];
  readonly dir: string;
  /** The Avro schema of its records, or null: JSON (lib/check.ts). */
  readonly schemaPath: string | null;
  /** Resolves true once everything it accepted is in Kafka; false if not within `timeoutMs`. */
  delivered(o: {
    from: ReadonlyMap<number, number>;
    publisher: PublisherSummary;
    timeoutMs: number;
  }): Promise<boolean>;
}

export interface WeirUnderTest extends UnderTest {
  readonly server: Server;
  readonly httpPort: number;
}

/** weir with the Kafka sink of `client`, writing to a fresh LogAppendTime topic. */
export async function startWeir(o: {
  dir: string;
  name: string;
  brokers: readonly string[];
  client: string;
  /** mqtt.limits.publishRate.ratePerSecond (lib/config.ts publishRatePerConnection); 0: none. */
  ratePerConnection?: number;
  /** V8 flags for weir's Node (procs.ts DEPLOYED_NODE_FLAGS: as deployed); default none. */
  nodeFlags?: readonly string[];
}): Promise<WeirUnderTest> {
  const topic = `bench.${o.name}.${randomUUID().slice(0, 8)}`;
  await prepareTopics(o.brokers, [topic]);
  const config = writeGatewayConfig({
    ...o,
    topic,
    spool: true,
    ratePerConnection: o.ratePerConnection ?? 0,
  });
  const server = await startServer({
    args: [...(o.nodeFlags ?? []), path.join(BENCH_DIR, 'servers/weir-gateway.ts'), `--config=${config}`],
    logFile: path.join(o.dir, `weir-${o.name}.log`),
  });
  const httpPort = Number(server.ready['httpPort']);
  return {
    server,
    mqttPort: Number(server.ready['mqttPort']),
    httpPort,
    topic,
    brokers: o.brokers,
    dir: o.dir,
    schemaPath: FACTORY_SCHEMA,
    delivered: ({ timeoutMs }) => spoolDrained(httpPort, timeoutMs),
  };
}

export interface StepResult {
  readonly rate: number;
  readonly qos: 0 | 1;
  readonly publisher: PublisherSummary;
  readonly kafka: GroupResult;
  /** Everything accepted was in Kafka within the drain timeout. */
  readonly drained: boolean;
  /** Records in Kafka ÷ (last append − start). */
  readonly kafkaPerSec: number;
}

export async function runStep(
  w: UnderTest,
  o: {
    tag: string;
    rate: number;
    durationMs: number;
    qos: 0 | 1;
    connections: number;
    window: number;
    drainTimeoutMs?: number;
  },
): Promise<StepResult> {
  const from = await highWatermarks(w.brokers, w.topic);
  const report = path.join(w.dir, `report-${o.tag}.json`);
  const publisher = await startPublisher({
    port: w.mqttPort,
    connections: o.connections,
    window: o.window,
    rate: o.rate,
    durationMs: o.durationMs,
    qos: o.qos,
    idPrefix: `${o.tag}-${randomUUID().slice(0, 6)}`,
    report,
    logFile: path.join(w.dir, `publisher-${o.tag}.log`),
  }).done;
  const drained = await w.delivered({ from, publisher, timeoutMs: o.drainTimeoutMs ?? 60_000 });
  const to = await highWatermarks(w.brokers, w.topic);
  const sim = await readReport(report);
  const check = await checkInKafka({
    brokers: w.brokers,
    topic: w.topic,
    from,
    to,
    reports: [sim],
    schemaPath: w.schemaPath,
  });
  const kafka = check.groups[0]!;
  return {
    rate: o.rate,
    qos: o.qos,
    publisher,
    kafka,
    drained: drained && check.complete,
    kafkaPerSec: kafkaRate(kafka, publisher.startedAtMs),
  };
}

/** The figures of a step worth keeping in the JSON result (not the per-second series). */
export function stepFigures(s: StepResult) {
  return {
    offeredPerSec: s.rate,
    qos: s.qos,
    sent: s.publisher.sent,
    sentPerSec: s.publisher.sentPerSec,
    acked: s.publisher.acked,
    ackedPerSec: s.publisher.ackedPerSec,
    skippedByWindow: s.publisher.skipped,
    inKafka: s.kafka.received,
    kafkaPerSec: s.kafkaPerSec,
    /** Only known once the spool drained; until then, missing records may still be on their way. */
    lost: s.drained ? s.kafka.lost : null,
    notInKafkaWhenChecked: s.kafka.lost,
    duplicates: s.kafka.duplicates,
    outOfOrder: s.kafka.outOfOrder,
    drained: s.drained,
    latencyMs: s.kafka.latencyMs,
  };
}
