// The configuration schema: one section per stage, defaults and units next to each field.
// This is the single source of truth — validation, defaults and the config reference in the
// README all come from here.
import { hostname } from 'node:os';
import { z } from 'zod';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Kafka client adapters (gateway/sinks/kafka/). */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic', 'rdkafka'] as const;

const port = z.int().min(0).max(65_535);

export const mqttSchema = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0').describe('Address the MQTT listener binds to.'),
    port: port.default(1883).describe('TCP port of the MQTT listener (0 picks a free port).'),
    maxPacketBytes: z
      .int()
      .min(64)
      .max(268_435_455)
      .default(256 * KiB)
      .describe(
        'Largest MQTT packet accepted, in bytes (remaining length). A larger packet closes only that connection and is counted as too_large.',
      ),
    connectTimeoutMs: z
      .int()
      .positive()
      .default(30_000)
      .describe('A socket that has not sent CONNECT within this time is closed.'),
  })
  .default({ host: '0.0.0.0', port: 1883, maxPacketBytes: 256 * KiB, connectTimeoutMs: 30_000 });

const brokerAddress = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9092')
  .describe('A Kafka bootstrap broker as host:port.');

const kafkaTopicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name is 1–249 characters of [a-zA-Z0-9._-]');

export const kafkaSchema = z.strictObject({
  brokers: z.array(brokerAddress).min(1).describe('Bootstrap brokers.'),
  clientId: z.string().min(1).default('weir').describe('Kafka client id.'),
  client: z
    .enum(KAFKA_CLIENTS)
    .default('kafkajs')
    .describe(
      'Kafka client library behind the sink: kafkajs or platformatic (pure JavaScript), or rdkafka ' +
        '(node-rdkafka on librdkafka, an optional native build; see the README).',
    ),
  compression: z
    .enum(['none', 'gzip', 'zstd'])
    .default('none')
    .describe(
      "Compression of produced batches. zstd uses the codec built into Node (librdkafka's own with rdkafka).",
    ),
  requestTimeoutMs: z
    .int()
    .positive()
    .default(30_000)
    .describe('A Kafka request unanswered for this long fails and is retried.'),
  connectionTimeoutMs: z.int().positive().default(5_000).describe('Time to establish a broker connection.'),
  deadLetterTopic: kafkaTopicName
    .default('weir.deadletter')
    .describe('Where messages that cannot become a record of their route go, with a reason.'),
  createTopics: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Create missing route and dead-letter topics at start-up.'),
      partitions: z.int().positive().default(1).describe('Partitions of topics weir creates.'),
      replicationFactor: z
        .int()
        .min(-1)
        .default(-1)
        .describe("Replication factor of topics weir creates; -1 takes the broker's default."),
    })
    .default({ enabled: true, partitions: 1, replicationFactor: -1 }),
});

export const batchSchema = z
  .strictObject({
    maxRecords: z.int().positive().default(1000).describe('A batch is sent when it holds this many records…'),
    maxBytes: z
      .int()
      .positive()
      .default(1 * MiB)
      .describe('…or this many bytes (keys + values + headers)…'),
    lingerMs: z
      .int()
      .min(0)
      .default(10)
      .describe('…or when its first record has waited this long, whichever comes first.'),
    maxBufferedBytes: z
      .int()
      .positive()
      .default(64 * MiB)
      .describe(
        'Upper bound on record bytes held in memory between intake and Kafka. When reached, intake waits (devices see TCP backpressure).',
      ),
  })
  .default({ maxRecords: 1000, maxBytes: 1 * MiB, lingerMs: 10, maxBufferedBytes: 64 * MiB });

const GiB = 1024 * MiB;

export const spoolSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'Keep records in the on-disk spool until Kafka acknowledges them, and acknowledge QoS 1/2 only after an fsync. Off: records wait in memory and QoS 1/2 is acknowledged after Kafka.',
      ),
    dir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Spool directory, relative to the config file. Default: $STATE_DIRECTORY/spool under systemd, else ~/.local/state/weir/spool.',
      ),
    maxBytes: z
      .int()
      .min(64 * KiB)
      .default(1 * GiB)
      .describe('Upper bound on the spool on disk, in bytes.'),
    segmentBytes: z
      .int()
      .min(4 * KiB)
      .default(64 * MiB)
      .describe('Size of one segment file (at most maxBytes / 8 is used, so space frees in steps).'),
    whenFull: z
      .enum(['block', 'dropOldest', 'dropNewest'])
      .default('block')
      .describe(
        'At maxBytes: block stops reading from devices (no PUBACK; TCP backpressure); dropOldest deletes the oldest segment; dropNewest refuses new records. Drops are counted (spool_full).',
      ),
    fsyncIntervalMs: z
      .int()
      .min(0)
      .default(0)
      .describe(
        '0: one fsync per write group (group commit). N: one fsync every N ms; QoS 1/2 acknowledgements wait for it.',
      ),
    checkpointIntervalMs: z
      .int()
      .positive()
      .default(1000)
      .describe(
        'How often the delivered position is persisted; records delivered after the last checkpoint may be sent again after a crash.',
      ),
    drainMaxBytesPerSec: z
      .int()
      .min(0)
      .default(0)
      .describe('Cap on the rate records are sent to Kafka, bytes per second (0: no cap). For thin uplinks.'),
  })
  .default({
    enabled: true,
    maxBytes: 1 * GiB,
    segmentBytes: 64 * MiB,
    whenFull: 'block',
    fsyncIntervalMs: 0,
    checkpointIntervalMs: 1000,
    drainMaxBytesPerSec: 0,
  });

export const httpSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Serve /metrics (Prometheus), /healthz, /readyz, /status (JSON) and the status page at /.'),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe(
        'Address the HTTP listener binds to. The default answers only on this machine; 0.0.0.0 lets Prometheus scrape from elsewhere (there is no authentication: firewall it).',
      ),
    port: port.default(9464).describe('TCP port of the HTTP listener (0 picks a free port).'),
    statusWindowSeconds: z
      .int()
      .min(2)
      .max(3600)
      .default(10)
      .describe(
        'Rates in /status and on the status page, and its checks (data flowing? backlog growing?), cover this many seconds.',
      ),
  })
  .default({ enabled: true, host: '127.0.0.1', port: 9464, statusWindowSeconds: 10 });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _')
    .refine((name) => name !== 'no_route', {
      message: "'no_route' is reserved: it labels messages no route matches",
    })
    .describe('Route name: a label in metrics and logs.'),
  mqttTopic: z
    .string()
    .min(1)
    .describe('MQTT topic pattern; {name} matches one level and makes it a field of the record.'),
  kafkaTopic: kafkaTopicName.describe('Kafka topic the records go to.'),
  schema: z.string().min(1).describe('Path of the Avro schema (.avsc), relative to the config file.'),
  key: z
    .string()
    .min(1)
    .optional()
    .describe('Named segment used as the Kafka key; defaults to the last named segment (the device id).'),
});

export const configSchema = z.strictObject({
  gatewayId: z
    .string()
    .min(1)
    .optional()
    .transform((v) => v ?? hostname())
    .describe('Identifies this gateway in Kafka headers and dead letters; defaults to the host name.'),
  mqtt: mqttSchema,
  kafka: kafkaSchema,
  batch: batchSchema,
  spool: spoolSchema,
  routes: z.array(routeSchema).min(1).describe('MQTT topic pattern → Kafka topic and schema.'),
  shutdown: z
    .strictObject({
      drainTimeoutMs: z
        .int()
        .min(0)
        .default(10_000)
        .describe('On SIGTERM/SIGINT, how long to wait for buffered records to reach Kafka.'),
    })
    .default({ drainTimeoutMs: 10_000 }),
  http: httpSchema,
  log: z
    .strictObject({
      level: z
        .enum(LOG_LEVELS)
        .default('info')
        .describe('Log level (JSON lines on stdout). Nothing is logged per message at info.'),
    })
    .default({ level: 'info' }),
});

export type Config = z.infer<typeof configSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
