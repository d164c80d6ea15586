// Metrics: one prom-client registry per gateway. Names follow weir_<stage>_<what>_<unit>;
// counters end in _total; labels come only from small fixed sets (route names from the config,
// QoS, reason codes — never a device id). Every metric is listed in the README's Metrics table
// (a test checks that the table and this registry agree).
//
// Cost on the hot path: prom-client hashes and validates the label set on every `inc`, even on a
// pre-bound child. Counters touched per message are therefore tallies: plain numbers the hot path
// adds to, handed to prom-client only when it collects (at scrape time). Histograms are observed
// per batch, never per message.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { AUTH_FAILURE_REASONS } from './auth/authenticator.ts';
import type { DeadLetterReason, DropReason } from './contracts.ts';

/** The route label of messages whose topic no route matches (a route may not take this name). */
export const NO_ROUTE = 'no_route';

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'invalid_json',
  'schema_mismatch',
  'no_route',
  'kafka_rejected',
];
export const DROP_REASONS: readonly DropReason[] = [
  'too_large',
  'topic_too_long',
  'topic_too_many_levels',
  'rate_limited',
  'spool_full',
  'spool_damaged',
  'shutdown',
  'deadletter_rejected',
  'unauthorized',
  'expired',
];

/** Why the source refused or closed a connection (weir_source_connections_refused_total). */
export type RefusalReason = 'max_connections' | 'connect_timeout' | 'keepalive' | 'max_subscriptions';
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'max_connections',
  'connect_timeout',
  'keepalive',
  'max_subscriptions',
];
/** What the source did with a PUBLISH over its connection's rate (weir_source_rate_limited_total). */
export type RateLimitAction = 'slow' | 'disconnect';
export const RATE_LIMIT_ACTIONS: readonly RateLimitAction[] = ['slow', 'disconnect'];

/** Messages and payload bytes received on one route, indexed by QoS. */
export interface RouteTraffic {
  readonly messages: [number, number, number];
  readonly bytes: [number, number, number];
}

/** A counter kept as plain numbers per reason; `counts` is read by the status page. */
export interface Tally<K extends string> {
  readonly counts: Readonly<Record<K, number>>;
  inc(labels: { reason: K }, n?: number): void;
}

/** An unlabelled counter kept as a plain number. */
export interface SimpleTally {
  readonly value: number;
  inc(n?: number): void;
}

export interface MetricsOptions {
  /** Route names from the config: the values of the `route` label (with NO_ROUTE). */
  readonly routes: readonly string[];
  /** weir's version, for weir_build_info. */
  readonly version: string;
}

export function createMetrics(opts: MetricsOptions) {
  const registry = new Registry();
  const registers = [registry];

  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'weir_build_info',
    help: 'Always 1; the labels tell the weir and Node.js versions.',
    labelNames: ['version', 'nodejs'] as const,
    registers,
  }).set({ version: opts.version, nodejs: process.versions.node }, 1);

  // Per route and QoS, counted by the intake for every PUBLISH.
  const traffic = new Map<string, RouteTraffic>();
  for (const name of [...opts.routes, NO_ROUTE]) traffic.set(name, newTraffic());
  const byRouteAndQos = (pick: (t: RouteTraffic) => readonly number[]) =>
    function collect(this: Counter<'route' | 'qos'>) {
      this.reset();
      for (const [route, t] of traffic) {
        const v = pick(t);
        for (let qos = 0; qos < 3; qos++) this.inc({ route, qos: String(qos) }, v[qos]!);
      }
    };
  new Counter({
    name: 'weir_source_messages_total',
    help: 'MQTT PUBLISH packets received from devices, by route (no_route: no route matched) and QoS.',
    labelNames: ['route', 'qos'] as const,
    registers,
    collect: byRouteAndQos((t) => t.messages),
  });
  new Counter({
    name: 'weir_source_payload_bytes_total',
    help: 'Payload bytes of the PUBLISH packets received from devices, by route and QoS.',
    labelNames: ['route', 'qos'] as const,
    registers,
    collect: byRouteAndQos((t) => t.bytes),
  });

  const deadLetters = reasonTally(
    registers,
    'weir_deadletter_records_total',
    'Messages sent to the dead-letter topic instead of their route, by reason.',
    DEAD_LETTER_REASONS,
  );
  const dropped = reasonTally(
    registers,
    'weir_dropped_messages_total',
    'Messages that reached neither their route nor the dead-letter topic, by reason.',
    DROP_REASONS,
  );
  const authFailures = reasonTally(
    registers,
    'weir_source_auth_failures_total',
    'MQTT logins refused, by reason.',
    AUTH_FAILURE_REASONS,
  );
  const connectionsRefused = reasonTally(
    registers,
    'weir_source_connections_refused_total',
    'MQTT connections refused or closed by a limit, by reason.',
    REFUSAL_REASONS,
  );
  const rateLimited = labelTally(
    registers,
    'weir_source_rate_limited_total',
    'PUBLISH packets over their connection rate, by action (slow: held back; disconnect: connection closed).',
    'action',
    RATE_LIMIT_ACTIONS,
  );
  const subscriberSkipped = simpleTally(
    registers,
    'weir_source_subscriber_skipped_total',
    'Messages not delivered to an MQTT subscriber because it did not read its socket.',
  );
  const kafkaRecords = simpleTally(
    registers,
    'weir_kafka_records_total',
    'Records Kafka acknowledged (acks=all), dead letters included.',
  );
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
    help: '1 while Kafka answers: the last produce succeeded and the last probe (a metadata request every second) was answered within kafka.requestTimeoutMs; 0 otherwise.',
    registers,
  });
  const spoolDamage = simpleTally(
    registers,
    'weir_spool_damage_events_total',
    'Damaged or torn spool regions cut off (at start-up or while reading).',
  );
  const spoolIoErrors = simpleTally(
    registers,
    'weir_spool_io_errors_total',
    'Failed spool writes or fsyncs (the records concerned were not acknowledged).',
  );

  return {
    registry,
    /** The tallies of one route (NO_ROUTE for unmatched topics). Look up once, then add. */
    traffic(route: string): RouteTraffic {
      let t = traffic.get(route);
      if (t === undefined) {
        t = newTraffic();
        traffic.set(route, t);
      }
      return t;
    },
    /** Every route's tallies, config order, NO_ROUTE last. */
    routes: traffic as ReadonlyMap<string, RouteTraffic>,
    deadLetters,
    dropped,
    authFailures,
    connectionsRefused,
    rateLimited,
    subscriberSkipped,
    kafkaRecords,
    kafkaSendSeconds,
    kafkaBatchRecords,
    kafkaUp,
    spoolDamage,
    spoolIoErrors,
    /** Registers a gauge whose value is read at scrape time. */
    gauge(name: string, help: string, read: () => number | Promise<number>): void {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

function newTraffic(): RouteTraffic {
  return { messages: [0, 0, 0], bytes: [0, 0, 0] };
}

function reasonTally<K extends string>(
  registers: Registry[],
  name: string,
  help: string,
  reasons: readonly K[],
): Tally<K> {
  const counts = labelTally(registers, name, help, 'reason', reasons);
  return {
    counts,
    inc(labels, n = 1) {
      counts[labels.reason] += n;
    },
  };
}

/** A counter with one label, kept as plain numbers per value: the hot path adds to `counts[value]`. */
function labelTally<K extends string>(
  registers: Registry[],
  name: string,
  help: string,
  label: string,
  values: readonly K[],
): Record<K, number> {
  const counts = Object.fromEntries(values.map((r) => [r, 0])) as Record<K, number>;
  new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      this.reset();
      for (const value of values) this.inc({ [label]: value }, counts[value]);
    },
  });
  return counts;
}

function simpleTally(registers: Registry[], name: string, help: string): SimpleTally {
  const tally = {
    value: 0,
    inc(n = 1) {
      tally.value += n;
    },
  };
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(tally.value);
    },
  });
  return tally;
}

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
