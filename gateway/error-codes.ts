// Every error code weir, its CLI and its tools raise, in one place: what it means and whether
// trying again (later, unchanged) can help. The codes are stable — they appear in logs, in
// /status, in exit messages and in tests — so a code is added here, never renamed.
//
// `retriable`: true when the condition is expected to pass by itself (Kafka back, disk freed) and
// the caller keeps the data and tries again; false when someone must act first (fix the config,
// free a port, install Java). WeirError takes its `retriable` from here.

export interface ErrorCodeInfo {
  readonly retriable: boolean;
  readonly meaning: string;
}

export const ERROR_CODES = {
  // Configuration and start-up
  WEIR_CONFIG_INVALID: {
    retriable: false,
    meaning: 'the config (file, environment, flags) has problems; every one is listed',
  },
  WEIR_SCHEMA_INVALID: {
    retriable: false,
    meaning: 'an Avro schema file of a route cannot be read or parsed',
  },
  WEIR_MQTT_LISTEN: { retriable: false, meaning: 'an MQTT listener cannot listen on its host and port' },
  WEIR_HTTP_LISTEN: { retriable: false, meaning: 'the HTTP listener (/metrics, /status) cannot listen' },
  WEIR_SHUTDOWN: { retriable: false, meaning: 'the gateway stopped before Kafka acknowledged a message' },

  // Devices
  WEIR_UNAUTHORIZED: {
    retriable: false,
    meaning: 'a device published to a topic whose key segment is not its own id; the publish is dropped',
  },

  // Spool
  WEIR_SPOOL_WRITE: { retriable: true, meaning: 'writing to the spool failed (disk full, I/O error)' },
  WEIR_SPOOL_FSYNC: { retriable: true, meaning: 'fsync of the spool failed; the record is not durable' },
  WEIR_SPOOL_CLOSED: { retriable: true, meaning: 'the spool closed before the record was written' },
  WEIR_SPOOL_LOCKED: { retriable: false, meaning: 'another weir process holds the spool directory' },
  WEIR_SPOOL_FORMAT: { retriable: false, meaning: 'the spool was written by a newer weir (a newer format)' },

  // Kafka, as the gateway meets it
  WEIR_KAFKA_UNREACHABLE: { retriable: true, meaning: 'Kafka cannot be reached' },
  WEIR_KAFKA_TIMEOUT: { retriable: true, meaning: 'Kafka did not answer within kafka.requestTimeoutMs' },
  WEIR_KAFKA_NOT_CONNECTED: { retriable: true, meaning: 'the Kafka producer is not connected (yet)' },
  WEIR_KAFKA_NOT_SENT: {
    retriable: true,
    meaning: 'a batch was not sent because an earlier batch of the same call failed',
  },
  WEIR_KAFKA_INCOMPLETE: {
    retriable: true,
    meaning: 'the Kafka client reported success without an answer for every topic; sent again',
  },
  WEIR_KAFKA_AUTH: {
    retriable: true,
    meaning: 'Kafka refused the SASL credentials or mechanism (kafka.sasl); retried until fixed',
  },
  WEIR_KAFKA_TLS: {
    retriable: true,
    meaning: "the broker's certificate did not verify, or it refused ours (kafka.tls); retried until fixed",
  },
  WEIR_KAFKA_CLOSED: { retriable: false, meaning: 'the Kafka sink was closed while connecting' },
  WEIR_KAFKA_CLIENT_MISSING: {
    retriable: false,
    meaning: 'the configured Kafka client (kafka.client: rdkafka) is not installed or does not load',
  },

  // Schema Registry
  WEIR_REGISTRY_CONFIG: { retriable: false, meaning: 'the schemaRegistry section cannot be used as given' },
  WEIR_REGISTRY_UNREACHABLE: { retriable: true, meaning: 'the schema registry cannot be reached' },
  WEIR_REGISTRY_SERVER_ERROR: {
    retriable: true,
    meaning: 'the schema registry failed or is overloaded (HTTP 5xx, 408, 429)',
  },
  WEIR_REGISTRY_AUTH: { retriable: false, meaning: "the schema registry refuses weir's credentials" },
  WEIR_REGISTRY_NOT_FOUND: { retriable: false, meaning: 'the schema registry has no such subject or schema' },
  WEIR_REGISTRY_INCOMPATIBLE: {
    retriable: false,
    meaning: "the schema is incompatible with the subject's earlier versions",
  },
  WEIR_REGISTRY_SCHEMA_INVALID: { retriable: false, meaning: 'the schema registry calls the schema invalid' },
  WEIR_REGISTRY_REFUSED: { retriable: false, meaning: 'the schema registry refused a request (another 4xx)' },
  WEIR_REGISTRY_BAD_RESPONSE: {
    retriable: false,
    meaning: 'the schema registry gave an answer weir cannot read',
  },
  WEIR_REGISTRY_SUBJECT_INVALID: {
    retriable: false,
    meaning: 'a subject name cannot be made with the configured strategy',
  },
  WEIR_REGISTRY_FRAME_INVALID: {
    retriable: false,
    meaning: 'a value is not in the Confluent wire format (magic byte, schema id)',
  },
  WEIR_REGISTRY_ID_PENDING: {
    retriable: true,
    meaning: "a schema's id is not known yet; the records wait, in order",
  },
  WEIR_REGISTRY_SCHEMA_REFUSED: {
    retriable: false,
    meaning: 'the schema registry refused a schema; its records wait until someone acts',
  },
  WEIR_REGISTRY_SCHEMA_UNKNOWN: {
    retriable: false,
    meaning: 'a spooled record was written with a schema this gateway no longer has and never got an id for',
  },

  // The local Kafka (weir kafka …)
  WEIR_KAFKA_JAVA_MISSING: { retriable: false, meaning: 'no Java on PATH for the local Kafka' },
  WEIR_KAFKA_JAVA_TOO_OLD: { retriable: false, meaning: 'the Java on PATH is older than Kafka needs' },
  WEIR_KAFKA_MAVEN_MISSING: { retriable: false, meaning: 'no Maven on PATH to fetch the Kafka jars' },
  WEIR_KAFKA_FETCH_FAILED: { retriable: false, meaning: 'fetching the Kafka jars from Maven Central failed' },
  WEIR_KAFKA_FORMAT_FAILED: {
    retriable: false,
    meaning: "formatting the local Kafka's storage (KRaft) failed",
  },
  WEIR_KAFKA_SECURITY_FAILED: {
    retriable: false,
    meaning: 'making the local Kafka secure (certificates, SASL users) failed',
  },
  WEIR_KAFKA_PORT_IN_USE: { retriable: false, meaning: 'a port of the local Kafka is taken' },
  WEIR_KAFKA_START_FAILED: { retriable: false, meaning: 'the local Kafka did not start' },
  WEIR_KAFKA_START_TIMEOUT: { retriable: false, meaning: 'the local Kafka did not become ready in time' },
  WEIR_KAFKA_NOT_ANSWERING: {
    retriable: false,
    meaning: 'a local Kafka process runs but does not answer, or its state file is missing',
  },
  WEIR_KAFKA_STOP_FAILED: { retriable: false, meaning: 'the local Kafka did not stop' },

  // The local Schema Registry (weir registry …)
  WEIR_LOCAL_REGISTRY_JAVA_MISSING: { retriable: false, meaning: 'no Java on PATH for the local registry' },
  WEIR_LOCAL_REGISTRY_JAVA_TOO_OLD: {
    retriable: false,
    meaning: 'the Java on PATH is older than the local registry needs',
  },
  WEIR_LOCAL_REGISTRY_MAVEN_MISSING: {
    retriable: false,
    meaning: "no Maven on PATH to fetch the registry's jars",
  },
  WEIR_LOCAL_REGISTRY_FETCH_FAILED: { retriable: false, meaning: "fetching the registry's jars failed" },
  WEIR_LOCAL_REGISTRY_PORT_IN_USE: { retriable: false, meaning: "the local registry's port is taken" },
  WEIR_LOCAL_REGISTRY_START_FAILED: { retriable: false, meaning: 'the local registry did not start' },
  WEIR_LOCAL_REGISTRY_START_TIMEOUT: {
    retriable: false,
    meaning: 'the local registry did not become ready in time',
  },
  WEIR_LOCAL_REGISTRY_NOT_ANSWERING: {
    retriable: false,
    meaning: 'a local registry process runs but does not answer, or its state file is missing',
  },
  WEIR_LOCAL_REGISTRY_STOP_FAILED: { retriable: false, meaning: 'the local registry did not stop' },

  // The simulator, weir verify and the demo
  WEIR_REPORT_UNREADABLE: { retriable: false, meaning: 'a simulator report file cannot be read' },
  WEIR_REPORT_INVALID: { retriable: false, meaning: 'a simulator report file is not a valid report' },
  WEIR_VERIFY_NO_TARGET: { retriable: false, meaning: 'weir verify was not told which Kafka topics to read' },
  WEIR_DEMO_GATEWAY_FAILED: {
    retriable: false,
    meaning: "the demo's gateway did not start or stopped early",
  },
} as const satisfies Record<`WEIR_${string}`, ErrorCodeInfo>;

/** A stable error code: a key of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;
