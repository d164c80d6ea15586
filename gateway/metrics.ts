// Metrics: one prom-client registry per gateway. Names follow weir_<stage>_<what>_<unit>;
// counters end in _total; labels come only from small fixed sets (never a device id).
// Hot-path counters are incremented per message with pre-bound label children; histograms are
// observed per batch.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeadLetterReason, DropReason } from './contracts.ts';

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];

  const messagesIn = new Counter({
    name: 'weir_source_messages_total',
    help: 'MQTT PUBLISH packets received from devices, by QoS.',
    labelNames: ['qos'] as const,
    registers,
  });
  const deadLetters = new Counter({
    name: 'weir_deadletter_records_total',
    help: 'Messages sent to the dead-letter topic instead of their route, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const dropped = new Counter({
    name: 'weir_dropped_messages_total',
    help: 'Messages that reached neither their route nor the dead-letter topic, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const kafkaRecords = new Counter({
    name: 'weir_kafka_records_total',
    help: 'Records Kafka acknowledged (acks=all), dead letters included.',
    registers,
  });
  const kafkaSendSeconds = new Histogram({
    name: 'weir_kafka_send_duration_seconds',
    help: 'Duration of one produce call to Kafka (all batches ready at that moment).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const kafkaBatchRecords = new Histogram({
    name: 'weir_kafka_batch_records',
    help: 'Records per batch acknowledged by Kafka.',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers,
  });
  const kafkaUp = new Gauge({
    name: 'weir_kafka_up',
    help: '1 when the last produce to Kafka succeeded, 0 while Kafka is unreachable or failing.',
    registers,
  });

  const spoolDamage = new Counter({
    name: 'weir_spool_damage_events_total',
    help: 'Damaged or torn spool regions cut off (at start-up or while reading).',
    registers,
  });
  const spoolIoErrors = new Counter({
    name: 'weir_spool_io_errors_total',
    help: 'Failed spool writes or fsyncs (the records concerned were not acknowledged).',
    registers,
  });

  // Pre-bound children for the hot path.
  const byQos = [
    messagesIn.labels({ qos: '0' }),
    messagesIn.labels({ qos: '1' }),
    messagesIn.labels({ qos: '2' }),
  ];
  const deadLetterBy = (reason: DeadLetterReason) => deadLetters.labels({ reason });
  const droppedBy = (reason: DropReason) => dropped.labels({ reason });
  for (const r of ['invalid_json', 'schema_mismatch', 'no_route', 'kafka_rejected'] as const) deadLetterBy(r);
  for (const r of ['too_large', 'shutdown', 'deadletter_rejected', 'spool_full', 'spool_damaged'] as const)
    droppedBy(r);

  return {
    registry,
    messagesIn: byQos,
    deadLetters: { inc: (l: { reason: DeadLetterReason }, n = 1) => deadLetters.inc(l, n) },
    dropped: { inc: (l: { reason: DropReason }, n = 1) => dropped.inc(l, n) },
    kafkaRecords,
    kafkaSendSeconds,
    kafkaBatchRecords,
    kafkaUp,
    spoolDamage,
    spoolIoErrors,
    /** Registers a gauge whose value is read at scrape time. */
    gauge(name: string, help: string, read: () => number): void {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Reads the current value of a counter or gauge (sum over labels, or one label set). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}
