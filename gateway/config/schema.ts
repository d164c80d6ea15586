// The configuration schema: one section per stage, defaults and units next to each field.
// This is the single source of truth — validation, defaults and the config reference in the
// README all come from here.
import { hostname } from 'node:os';
import { z } from 'zod';
import { schemaRegistrySchema } from './schema-registry.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Kafka client adapters (gateway/sinks/kafka/). */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic', 'rdkafka'] as const;
/** `kafka.client` when the config names none: the client that measured best end to end. */
export const DEFAULT_KAFKA_CLIENT = 'platformatic' satisfies (typeof KAFKA_CLIENTS)[number];

const port = z.int().min(0).max(65_535);

export const mqttTlsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve MQTT over TLS (mqtts) as well.'),
    host: z.string().min(1).default('0.0.0.0').describe('Address the TLS listener binds to.'),
    port: port.default(8883).describe('TCP port of the TLS listener (0 picks a free port).'),
    certFile: z
      .string()
      .min(1)
      .optional()
      .describe('Server certificate chain (PEM), relative to the config file. Required when enabled.'),
    keyFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Private key of the server certificate (PEM), relative to the config file. Required when enabled.',
      ),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'CA certificate(s) (PEM) that client certificates must chain to, relative to the config file. Required when clientCertificates is not none.',
      ),
    clientCertificates: z
      .enum(['none', 'optional', 'required'])
      .default('none')
      .describe(
        'Ask devices for a certificate signed by caFile: none; optional (a device without one logs in with a password); required (the TLS handshake fails without one).',
      ),
  })
  .prefault({});

export const mqttWebSocketSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve MQTT over WebSocket (ws://) as well.'),
    host: z.string().min(1).default('0.0.0.0').describe('Address the WebSocket listener binds to.'),
    port: port.default(8083).describe('TCP port of the WebSocket listener (0 picks a free port).'),
    path: z
      .string()
      .regex(/^\//, 'a path starts with /')
      .default('/mqtt')
      .describe('HTTP path of the WebSocket endpoint; other paths are refused.'),
  })
  .prefault({});

/** Device ids in the users file and in certificates: one MQTT topic level, no wildcards. */
export const DEVICE_ID = /^[^\s:/+#\p{Cc}]{1,256}$/u;

export const authSchema = z
  .union(
    [
      z.literal('none'),
      z
        .strictObject({
          usersFile: z
            .string()
            .min(1)
            .optional()
            .describe(
              'Users file (one `deviceId:scrypt$…` line per device, written by `weir passwd`), relative to the config file. The MQTT username is the device id.',
            ),
          clientCertificates: z
            .boolean()
            .default(false)
            .describe(
              'A verified client certificate (mqtt.tls.clientCertificates optional or required) logs the device in; its CN is the device id.',
            ),
        })
        .refine((a) => a.usersFile !== undefined || a.clientCertificates, {
          message: 'set usersFile, clientCertificates: true, or both',
        }),
    ],
    {
      error: (issue) =>
        issue.input === undefined
          ? "required: 'auth: none' accepts every device without a login (only for a trusted network), or '{usersFile: FILE}' and/or '{clientCertificates: true}' require one (see the README, Security)"
          : "expected 'none' or {usersFile?, clientCertificates?}",
    },
  )
  .describe(
    "Who may connect: 'none' (anonymous; publishes unrestricted), or an object with usersFile and/or clientCertificates. Required, so that running without logins is a written choice.",
  );

export const aclSchema = z
  .strictObject({
    subscribe: z
      .array(
        z.strictObject({
          pattern: z
            .string()
            .min(1)
            .describe(
              'MQTT topic filter a device may subscribe to (or to a narrower filter); a level {deviceId} stands for its own id.',
            ),
        }),
      )
      .default([])
      .describe('Subscriptions devices may make; every other SUBSCRIBE is refused (SUBACK failure).'),
  })
  .prefault({})
  .describe(
    'Authorization. Publishing is always limited to topics whose key segment is the device id (when devices log in).',
  );

export const limitsSchema = z
  .strictObject({
    maxConnections: z
      .int()
      .positive()
      .default(20_000)
      .describe('Open MQTT connections at most (all listeners); a socket beyond it is closed at once.'),
    minKeepaliveSeconds: z
      .int()
      .min(0)
      .max(65_535)
      .default(0)
      .describe(
        'A CONNECT with a shorter keepalive is refused (the connection closed). 0 accepts keepalive 0 (none); 1 or more refuses it.',
      ),
    maxKeepaliveSeconds: z
      .int()
      .min(1)
      .max(65_535)
      .default(3600)
      .describe('A CONNECT with a longer keepalive is refused (the connection closed).'),
    maxTopicBytes: z
      .int()
      .min(1)
      .max(65_535)
      .default(1024)
      .describe(
        'Longest PUBLISH (and will) topic, in UTF-8 bytes. A longer one closes that connection; counted as topic_too_long.',
      ),
    maxTopicLevels: z
      .int()
      .min(1)
      .max(100)
      .default(32)
      .describe(
        'Most levels (a/b/c is 3) in a PUBLISH (and will) topic. More closes that connection; counted as topic_too_many_levels.',
      ),
    maxSubscriptions: z
      .int()
      .min(0)
      .default(100)
      .describe(
        'Topic filters one connection may subscribe to; a SUBSCRIBE beyond it closes the connection. Deliveries to subscribers are QoS 0.',
      ),
    drainTimeoutMs: z
      .int()
      .positive()
      .default(10_000)
      .describe('A connection that does not read what weir writes to it (PUBACKs) for this long is closed.'),
    publishRate: z
      .strictObject({
        ratePerSecond: z
          .number()
          .min(0)
          .default(1000)
          .describe('PUBLISH packets per second one connection may send on average (0: no limit).'),
        burst: z
          .int()
          .min(1)
          .default(2000)
          .describe('PUBLISH packets one connection may send at once above the rate.'),
        whenExceeded: z
          .enum(['slow', 'disconnect'])
          .default('slow')
          .describe(
            'Over the rate: slow stops reading from that socket until the rate is met (TCP backpressure; nothing lost); disconnect closes the connection. Counted in weir_source_rate_limited_total.',
          ),
      })
      .prefault({}),
  })
  .refine((l) => l.minKeepaliveSeconds <= l.maxKeepaliveSeconds, {
    message: 'minKeepaliveSeconds must not exceed maxKeepaliveSeconds',
  })
  .prefault({});

export type LimitsConfig = z.infer<typeof limitsSchema>;

export const mqttSchema = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0').describe('Address the MQTT listener binds to.'),
    port: port.default(1883).describe('TCP port of the MQTT listener (0 picks a free port).'),
    plainTcp: z
      .boolean()
      .default(true)
      .describe(
        'Serve plain (unencrypted) MQTT on host:port. false leaves only the TLS and WebSocket listeners.',
      ),
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
    tls: mqttTlsSchema,
    websocket: mqttWebSocketSchema,
    limits: limitsSchema,
  })
  .prefault({});

const brokerAddress = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9092')
  .describe('A Kafka bootstrap broker as host:port.');

const kafkaTopicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name is 1–249 characters of [a-zA-Z0-9._-]');

/** SASL mechanisms weir can authenticate to Kafka with (which client supports which: security.ts). */
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name: letters, digits and _');

export const kafkaSaslSchema = z
  .strictObject({
    mechanism: z.enum(SASL_MECHANISMS).describe('SASL mechanism.'),
    username: z.string().min(1).describe('SASL user name.'),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding the password (relative to the config file; one trailing newline is ignored). Give this or passwordEnv.',
      ),
    passwordEnv: envName
      .optional()
      .describe('Environment variable holding the password. Give this or passwordFile.'),
    password: z
      .unknown()
      .optional()
      .describe(
        'Refused: a password is never written in the config itself; use passwordFile or passwordEnv.',
      ),
  })
  .superRefine((sasl, ctx) => {
    if (sasl.password !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message:
          'an inline password is refused (config files get copied, committed and printed): put it in a file (passwordFile) or an environment variable (passwordEnv)',
      });
    }
    const given = Number(sasl.passwordFile !== undefined) + Number(sasl.passwordEnv !== undefined);
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          given === 0 ? 'needs passwordFile or passwordEnv' : 'give passwordFile or passwordEnv, not both',
      });
    }
  })
  .optional()
  .describe('SASL authentication to Kafka (absent: none); see "Kafka security".');

export const kafkaTlsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Connect to Kafka over TLS.'),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file of the CA(s) that signed the brokers' certificates (relative to the config file). Default: the system's CAs.",
      ),
    certFile: z
      .string()
      .min(1)
      .optional()
      .describe('PEM client certificate, for brokers that require one (mutual TLS); needs keyFile.'),
    keyFile: z.string().min(1).optional().describe('PEM private key of certFile (unencrypted).'),
    servername: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Name to expect in the brokers' certificates (and to send as SNI) instead of each broker's host.",
      ),
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe(
        'Refuse brokers whose certificate does not verify. false is for tests only: anyone in the path can then read and change the traffic.',
      ),
  })
  .prefault({})
  .describe('TLS to Kafka.');

export const kafkaSchema = z.strictObject({
  brokers: z.array(brokerAddress).min(1).describe('Bootstrap brokers.'),
  clientId: z.string().min(1).default('weir').describe('Kafka client id.'),
  client: z
    .enum(KAFKA_CLIENTS)
    .default(DEFAULT_KAFKA_CLIENT)
    .describe(
      'Kafka client library behind the sink: platformatic (@platformatic/kafka, the fastest in the benchmarks) or kafkajs (both pure JavaScript), or rdkafka ' +
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
        .union([
          z.literal('auto'),
          z
            .int()
            .min(-1)
            .refine((n) => n !== 0, 'must not be 0'),
        ])
        .default('auto')
        .describe(
          "Replication factor of topics weir creates. auto: 3 on a cluster of 3 or more brokers, else the number of brokers (1 on a single broker), counting the brokers up at creation time — set 3 in production; -1 takes the broker's default.replication.factor.",
        ),
      minInsyncReplicas: z
        .union([
          z.literal('auto'),
          z
            .int()
            .min(-1)
            .refine((n) => n !== 0, 'must not be 0'),
        ])
        .default('auto')
        .describe(
          "min.insync.replicas of topics weir creates: how many replicas must have a record before Kafka acknowledges it (weir produces with acks=all). auto: 2 when the replication factor is 3 or more, else 1; -1 takes the broker's setting. With fewer replicas in sync Kafka refuses writes (NOT_ENOUGH_REPLICAS) and weir keeps the records in its spool until it accepts them.",
        ),
    })
    .superRefine((t, ctx) => {
      if (
        typeof t.replicationFactor === 'number' &&
        t.replicationFactor > 0 &&
        typeof t.minInsyncReplicas === 'number' &&
        t.minInsyncReplicas > t.replicationFactor
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['minInsyncReplicas'],
          message: `must not exceed replicationFactor (${t.replicationFactor}): Kafka would refuse every write`,
        });
      }
    })
    .prefault({})
    .describe('Topics weir creates when missing; existing topics are left as they are.'),
  sasl: kafkaSaslSchema,
  tls: kafkaTlsSchema,
});

export const batchSchema = z
  .strictObject({
    maxRecords: z.int().positive().default(1000).describe('A batch is sent when it holds this many records…'),
    maxBytes: z
      .int()
      .positive()
      .default(1 * MiB)
      .describe(
        "…or this many bytes as Kafka encodes the batch (keys, values, headers and the record format's overhead; at most the broker's message.max.bytes)…",
      ),
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
        'Upper bound on record bytes held in memory between intake and Kafka. When reached, intake waits (devices see TCP backpressure). With the spool on, the backlog waits on disk and at most 4 × maxBytes (at least 4 MiB, at most this) is read ahead into memory.',
      ),
  })
  .prefault({});

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
  .prefault({});

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
  .prefault({});

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
  auth: authSchema,
  acl: aclSchema,
  kafka: kafkaSchema,
  batch: batchSchema,
  spool: spoolSchema,
  schemaRegistry: schemaRegistrySchema,
  routes: z.array(routeSchema).min(1).describe('MQTT topic pattern → Kafka topic and schema.'),
  shutdown: z
    .strictObject({
      drainTimeoutMs: z
        .int()
        .min(0)
        .default(10_000)
        .describe('On SIGTERM/SIGINT, how long to wait for buffered records to reach Kafka.'),
    })
    .prefault({}),
  http: httpSchema,
  log: z
    .strictObject({
      level: z
        .enum(LOG_LEVELS)
        .default('info')
        .describe('Log level (JSON lines on stdout). Nothing is logged per message at info.'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type AuthConfig = z.infer<typeof authSchema>;
export type AclConfig = z.infer<typeof aclSchema>;
