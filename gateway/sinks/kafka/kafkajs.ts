// Kafka sink on kafkajs: acks=all, idempotent producer, one request in flight per connection.
// The adapter keeps kafkajs's own retries short and reports `retry` to the forwarder, which owns
// the backoff — so an outage is visible (weir_kafka_up) instead of hidden in an endless retry.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs, { type Admin, type Message, type Producer } from 'kafkajs';
import { NO_SECURITY } from '../../config/kafka-security.ts';
import type { Batch, BatchOutcome, Sink } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { kafkajsTimedOut, noAnswer, notConnected, produceOutcomes } from './errors.ts';
import { ignoreKafkajsNegativeTimeoutWarnings } from './kafkajs-warnings.ts';
import type { KafkaAdapterOptions } from './options.ts';
import { kafkajsSecurity, securityError } from './security.ts';
import { topicSettings } from './topics.ts';

export type KafkajsSinkOptions = KafkaAdapterOptions;

// kafkajs is CommonJS; Node cannot see all of its named exports from ESM.
const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  zstd: CompressionTypes.ZSTD,
} as const;

let zstdRegistered = false;
function registerZstd(): void {
  if (zstdRegistered) return;
  if (typeof zlib.zstdCompress !== 'function') {
    throw new WeirError('WEIR_CONFIG_INVALID', 'kafka.compression: zstd needs Node 22.15 or newer');
  }
  const compress = promisify(zlib.zstdCompress);
  const decompress = promisify(zlib.zstdDecompress);
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: (encoder: { buffer: Buffer }) => compress(encoder.buffer),
    decompress: (buffer: Buffer) => decompress(buffer),
  });
  zstdRegistered = true;
}

export class KafkajsSink implements Sink {
  readonly name = 'kafkajs';
  readonly #o: KafkajsSinkOptions;
  readonly #kafka: InstanceType<typeof Kafka>;
  #producer: Producer | null = null;
  #connecting: Promise<void> | null = null;
  /** The probe's client (one connection), made at the first probe. */
  #admin: Admin | null = null;
  #closed = false;

  constructor(opts: KafkajsSinkOptions) {
    this.#o = opts;
    ignoreKafkajsNegativeTimeoutWarnings();
    if (opts.compression === 'zstd') registerZstd();
    const log = opts.log;
    this.#kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      connectionTimeout: opts.connectionTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      // kafkajs logs every retry at error level; the forwarder logs an outage once instead.
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, log: entry }) => {
          const { message, ...fields } = entry;
          log.debug({ namespace, ...fields }, message);
        },
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
      ...kafkajsSecurity(opts.security ?? NO_SECURITY),
    });
  }

  connect(): Promise<void> {
    return this.#ensureProducer();
  }

  /**
   * Resolves once there is a connected producer, connecting one if there is none (never two at
   * once): connect() at start-up, and any send or probe after the producer was lost.
   */
  #ensureProducer(): Promise<void> {
    if (this.#producer !== null) return Promise.resolve();
    if (this.#closed) return Promise.reject(closedError());
    this.#connecting ??= this.#connect()
      .catch((err: unknown) => {
        throw securityError(err) ?? err;
      })
      .finally(() => {
        this.#connecting = null;
      });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    if (this.#o.createTopics.length > 0) await this.#ensureTopics();
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      // close() ran while connecting: nothing may stay connected behind it.
      await producer.disconnect().catch(() => {});
      throw closedError();
    }
    this.#producer = producer;
  }

  async #ensureTopics(): Promise<void> {
    const admin: Admin = this.#kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = this.#o.createTopics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      const { brokers } = await admin.describeCluster();
      const settings = topicSettings(brokers.length, this.#o.replicationFactor, this.#o.minInsyncReplicas);
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: this.#o.partitions,
          replicationFactor: settings.replicationFactor,
          configEntries: Object.entries(settings.configs).map(([name, value]) => ({ name, value })),
        })),
      });
      this.#o.log.info(
        { topics: missing, replicationFactor: settings.replicationFactor, configs: settings.configs },
        'created Kafka topics',
      );
    } finally {
      await admin.disconnect();
    }
  }

  send(batches: readonly Batch[]): Promise<BatchOutcome[]> {
    return produceOutcomes(
      batches,
      (bs) => this.#produce(bs),
      () => this.#resetProducer(),
    );
  }

  async #produce(batches: readonly Batch[]): Promise<void> {
    // A producer that was lost (failed connect, reset) is replaced here, by the next send.
    if (!this.#closed) await this.#ensureProducer();
    const producer = this.#producer;
    if (producer === null) throw notConnected();
    const answers = await producer.sendBatch({
      acks: -1,
      compression: COMPRESSION[this.#o.compression],
      topicMessages: batches.map((b) => ({ topic: b.topic, messages: b.records.map(toMessage) })),
    });
    // kafkajs 2.2.4 (producer/sendMessages.js) remembers, across its own retries of one call,
    // which brokers already answered, and sends nothing more to them. When a partition's
    // leadership moves (a broker killed) onto a broker that had answered for another partition
    // earlier in the call, that partition's records are never sent, yet the call resolves: a
    // silent loss, seen in the cluster failover test. Every topic of the call must be in the
    // answers; otherwise the whole call is sent again (duplicates at worst, counted, never loss).
    const answered = new Set(answers.map((a) => a.topicName));
    const skipped = [...new Set(batches.map((b) => b.topic))].filter((t) => !answered.has(t));
    if (skipped.length > 0) {
      throw new WeirError(
        'WEIR_KAFKA_INCOMPLETE',
        `Kafka client reported success without writing to ${skipped.join(', ')}; sending again`,
        { retriable: true },
      );
    }
  }

  /** Drops the producer (its producer id is spoiled); the next send or probe connects a new one. */
  async #resetProducer(): Promise<void> {
    const old = this.#producer;
    this.#producer = null;
    await old?.disconnect().catch(() => {});
  }

  /** A metadata request without topics (brokers only) over the admin connection. */
  async probe(): Promise<void> {
    await this.#ensureProducer();
    this.#admin ??= this.#kafka.admin({ retry: { retries: 0 } });
    const admin = this.#admin;
    try {
      await admin.connect();
      await admin.describeCluster();
    } catch (err) {
      // A connection whose request timed out may not recover by itself (seen after a broker was
      // frozen and thawed): the next probe gets a new one.
      if (this.#admin === admin) this.#admin = null;
      void admin.disconnect().catch(() => {});
      throw kafkajsTimedOut(err) ? noAnswer('metadata request', this.#o.requestTimeoutMs, err) : err;
    } finally {
      // close() ran meanwhile: the connection just made must not outlive the sink.
      if (this.#closed) await admin.disconnect().catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    const admin = this.#admin;
    this.#producer = null;
    this.#admin = null;
    await admin?.disconnect().catch(() => {});
    await producer?.disconnect();
  }
}

function closedError(): WeirError {
  return new WeirError('WEIR_KAFKA_CLOSED', 'Kafka sink closed while connecting');
}

function toMessage(r: Batch['records'][number]): Message {
  return { key: r.key, value: r.value, headers: r.headers, timestamp: String(r.timestamp) };
}
