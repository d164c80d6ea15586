// Kafka sink on kafkajs: acks=all, idempotent producer, one request in flight per connection.
// The adapter keeps kafkajs's own retries short and reports `retry` to the forwarder, which owns
// the backoff — so an outage is visible (weir_kafka_up) instead of hidden in an endless retry.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs, { type Admin, type Message, type Producer } from 'kafkajs';
import { NO_SECURITY } from '../../config/kafka-security.ts';
import type { Batch } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { KafkaAdapter, type TopicAdmin } from './adapter.ts';
import { kafkajsTimedOut, noAnswer } from './errors.ts';
import { ignoreKafkajsNegativeTimeoutWarnings } from './kafkajs-warnings.ts';
import type { KafkaAdapterOptions } from './options.ts';
import { kafkajsSecurity } from './security.ts';

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

export class KafkajsSink extends KafkaAdapter<Producer> {
  readonly name = 'kafkajs';
  readonly #kafka: InstanceType<typeof Kafka>;
  /** The probe's client (one connection), made at the first probe. */
  #admin: Admin | null = null;

  constructor(opts: KafkaAdapterOptions) {
    super(opts);
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

  protected override async open(): Promise<Producer> {
    await this.createMissingTopics(() => this.#topicAdmin());
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
    return producer;
  }

  async #topicAdmin(): Promise<TopicAdmin> {
    const admin: Admin = this.#kafka.admin();
    await admin.connect();
    return {
      existing: () => admin.listTopics(),
      brokerCount: async () => (await admin.describeCluster()).brokers.length,
      create: async (topics, partitions, settings) => {
        await admin.createTopics({
          waitForLeaders: true,
          topics: topics.map((topic) => ({
            topic,
            numPartitions: partitions,
            replicationFactor: settings.replicationFactor,
            configEntries: Object.entries(settings.configs).map(([name, value]) => ({ name, value })),
          })),
        });
        return topics;
      },
      close: () => admin.disconnect(),
    };
  }

  protected override async produce(producer: Producer, batches: readonly Batch[]): Promise<null[]> {
    const answers = await producer.sendBatch({
      acks: -1,
      compression: COMPRESSION[this.options.compression],
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
        {},
      );
    }
    return batches.map(() => null);
  }

  /** A metadata request without topics (brokers only) over the admin connection. */
  protected override async ask(): Promise<void> {
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
      throw kafkajsTimedOut(err) ? noAnswer('metadata request', this.options.requestTimeoutMs, err) : err;
    } finally {
      // close() ran meanwhile: the connection just made must not outlive the sink.
      if (this.closed) await admin.disconnect().catch(() => {});
    }
  }

  protected override closeProducer(producer: Producer): Promise<void> {
    return producer.disconnect();
  }

  protected override async closeOthers(): Promise<void> {
    const admin = this.#admin;
    this.#admin = null;
    await admin?.disconnect().catch(() => {});
  }
}

function toMessage(r: Batch['records'][number]): Message {
  // kafkajs writes a header per value of an array (a name sent more than once) and never changes it.
  const headers = r.headers as Message['headers'];
  return { key: r.key, value: r.value, headers, timestamp: String(r.timestamp) };
}
