// node-rdkafka is opt-in (a native addon built from source, not in package.json): `weir kafka
// install-rdkafka` installs the version below. weir loads it only when `kafka.client: rdkafka`
// asks for it, and describes here the small part of its API the adapter uses — the type check
// must pass where it is not installed.
import { createRequire } from 'node:module';
import { WeirError } from '../../errors.ts';

export const RDKAFKA_MODULE = 'node-rdkafka';
/** The node-rdkafka version `weir kafka install-rdkafka` installs (tested with this one). */
export const RDKAFKA_VERSION = '3.6.1';
/** The one command that installs it, from weir's folder. */
export const RDKAFKA_INSTALL_COMMAND = 'npm run weir -- kafka install-rdkafka';

/** librdkafka configuration properties (CONFIGURATION.md of librdkafka), plus node-rdkafka's `dr_cb`. */
export type RdkafkaConfig = Record<string, string | number | boolean>;

/** The error node-rdkafka passes to callbacks and throws: librdkafka's error code and flags. */
export interface RdkafkaError extends Error {
  readonly code: number;
  readonly isFatal?: boolean;
  readonly isRetriable?: boolean;
}

export interface DeliveryReport {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly opaque: unknown;
}

/** A delivery report error carries only librdkafka's error text ("Broker: Message size too large"). */
export interface RdkafkaProducer {
  connect(opts: { timeout: number; topic?: string }, cb: (err: RdkafkaError | null) => void): void;
  disconnect(timeoutMs: number, cb: (err: RdkafkaError | null) => void): void;
  isConnected(): boolean;
  /** `allTopics: false` without `topic`: the topics the client already knows (none: brokers only). */
  getMetadata(
    opts: { allTopics: boolean; timeout: number },
    cb: (err: RdkafkaError | null, metadata: unknown) => void,
  ): void;
  produce(
    topic: string,
    partition: number | null,
    value: Buffer,
    key: Buffer | null,
    timestamp: number,
    opaque: unknown,
    headers: Record<string, Buffer>[],
  ): unknown;
  poll(): void;
  on(event: 'delivery-report', cb: (err: RdkafkaError | null, report: DeliveryReport) => void): this;
  on(event: 'event.error', cb: (err: RdkafkaError) => void): this;
}

export interface RdkafkaAdmin {
  createTopic(
    topic: {
      topic: string;
      num_partitions: number;
      replication_factor: number;
      config?: Record<string, string>;
    },
    timeoutMs: number,
    cb: (err: RdkafkaError | null) => void,
  ): void;
  disconnect(): void;
}

/** node-rdkafka's module (the part weir uses). */
interface RdkafkaModule {
  readonly librdkafkaVersion: string;
  readonly features: readonly string[];
  readonly CODES: { readonly ERRORS: Readonly<Record<string, number>> };
  /** Topic-level properties go in `topicConf`: node-rdkafka replaces librdkafka's default topic config with it. */
  readonly Producer: new (
    conf: RdkafkaConfig,
    topicConf: RdkafkaConfig,
  ) => RdkafkaProducer;
  readonly AdminClient: { create(conf: RdkafkaConfig): RdkafkaAdmin };
}

export interface Rdkafka extends RdkafkaModule {
  /** librdkafka's error code of an error node-rdkafka passed on; -1 when it cannot tell. */
  errorCode(err: RdkafkaError): number;
}

let loaded: Promise<Rdkafka> | null = null;

/** node-rdkafka, or WEIR_KAFKA_CLIENT_MISSING (with how to install it) when it cannot be loaded. */
export function loadRdkafka(): Promise<Rdkafka> {
  loaded ??= Promise.all([import(RDKAFKA_MODULE), import(`${RDKAFKA_MODULE}/librdkafka.js`)]).then(
    ([m, binding]: [{ default: RdkafkaModule }, { default: { err2str(code: number): string } }]) =>
      withErrorCodes(m.default, (code) => binding.default.err2str(code)),
    (err: unknown) => {
      loaded = null;
      throw missing(err);
    },
  );
  return loaded;
}

/**
 * Delivery report errors reach JavaScript as librdkafka's error text only (node-rdkafka builds
 * them from the string); the code is recovered from librdkafka's own code → text table.
 */
function withErrorCodes(m: RdkafkaModule, err2str: (code: number) => string): Rdkafka {
  const byText = new Map<string, number>();
  for (const code of Object.values(m.CODES.ERRORS)) byText.set(err2str(code).toLowerCase(), code);
  const errorCode = (err: RdkafkaError): number => {
    if (err.code !== -1) return err.code;
    const origin = (err as { origin?: unknown }).origin;
    return byText.get(`${String(origin)}: ${err.message}`.toLowerCase()) ?? -1;
  };
  return { ...m, errorCode };
}

function missing(cause: unknown): WeirError {
  // A package that is present but whose addon failed to load says more than "not found".
  const present = (() => {
    try {
      createRequire(import.meta.url).resolve(`${RDKAFKA_MODULE}/package.json`);
      return true;
    } catch {
      return false;
    }
  })();
  const what = present
    ? `${RDKAFKA_MODULE} does not load (built for another Node version?)`
    : `${RDKAFKA_MODULE} is not installed`;
  return new WeirError(
    'WEIR_KAFKA_CLIENT_MISSING',
    `kafka.client is rdkafka, but ${what}: run \`${RDKAFKA_INSTALL_COMMAND}\` in weir's folder, ` +
      'or choose kafka.client: platformatic or kafkajs, which need no build.',
    { cause },
  );
}

/**
 * Kafka protocol error names for librdkafka's broker error codes (positive codes are the Kafka
 * protocol's own) that decide an outcome; weir's outcome logic reads `type`.
 */
const KAFKA_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [2, 'CORRUPT_MESSAGE'],
  [10, 'MESSAGE_TOO_LARGE'],
  [17, 'INVALID_TOPIC_EXCEPTION'],
  [18, 'RECORD_LIST_TOO_LARGE'],
  [36, 'TOPIC_ALREADY_EXISTS'],
  [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
  [47, 'INVALID_PRODUCER_EPOCH'],
  [59, 'UNKNOWN_PRODUCER_ID'],
  [87, 'INVALID_RECORD'],
]);

/** librdkafka's code for a producer that hit a fatal (idempotence) error: it must be replaced. */
export const ERR_FATAL = -150;
/** librdkafka's local errors of a refused login and of a failed TLS handshake or verification. */
export const ERR_AUTHENTICATION = -169;
export const ERR_SSL = -181;
/** RD_KAFKA_RESP_ERR__TIMED_OUT: no answer within the operation's timeout. */
export const ERR_TIMED_OUT = -185;

/** The Kafka protocol error name of a librdkafka error code, where weir's outcome logic needs it. */
export function kafkaErrorName(code: number): string | null {
  return KAFKA_ERROR_NAMES.get(code) ?? null;
}
