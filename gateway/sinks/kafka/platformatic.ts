// Kafka sink on @platformatic/kafka (pure TypeScript, maintained): acks=all, idempotent producer.
// Same contract as the kafkajs adapter: one call in flight (the forwarder serialises), one
// outcome per batch, never throws; short client retries, the forwarder owns the backoff.
import { Admin, compatibilityPartitioner, Producer } from '@platformatic/kafka';
import { NO_SECURITY } from '../../config/kafka-security.ts';
import type { Batch, BatchOutcome, Sink } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { kafkaErrorType, notConnected, produceOutcomes } from './errors.ts';
import type { KafkaAdapterOptions } from './options.ts';
import { platformaticSecurity, securityError } from './security.ts';
import { topicSettings } from './topics.ts';

export type PlatformaticSinkOptions = KafkaAdapterOptions;

export class PlatformaticSink implements Sink {
  readonly name = 'platformatic';
  readonly #o: PlatformaticSinkOptions;
  #producer: Producer | null = null;
  #connecting: Promise<void> | null = null;
  #closed = false;

  constructor(opts: PlatformaticSinkOptions) {
    this.#o = opts;
  }

  #base() {
    return {
      clientId: this.#o.clientId,
      bootstrapBrokers: [...this.#o.brokers],
      timeout: this.#o.requestTimeoutMs,
      connectTimeout: this.#o.connectionTimeoutMs,
      retries: 3,
      retryDelay: 200,
      ...platformaticSecurity(this.#o.security ?? NO_SECURITY),
    };
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
    const producer = new Producer({
      ...this.#base(),
      idempotent: true,
      acks: -1,
      compression: this.#o.compression,
      autocreateTopics: true,
      // The Java client's (and kafkajs's) key → partition mapping, so a switch of client library
      // keeps every device on its partition.
      partitioner: compatibilityPartitioner,
    });
    try {
      await producer.metadata({ topics: [...this.#o.createTopics] });
    } catch (err) {
      await producer.close().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      // close() ran while connecting: nothing may stay connected behind it.
      await producer.close().catch(() => {});
      throw closedError();
    }
    this.#producer = producer;
  }

  async #ensureTopics(): Promise<void> {
    const admin = new Admin(this.#base());
    try {
      const existing = new Set(await admin.listTopics());
      const missing = this.#o.createTopics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      const cluster = await admin.metadata({ topics: [] });
      const settings = topicSettings(
        cluster.brokers.size,
        this.#o.replicationFactor,
        this.#o.minInsyncReplicas,
      );
      await admin.createTopics({
        topics: missing,
        partitions: this.#o.partitions,
        replicas: settings.replicationFactor,
        configs: Object.entries(settings.configs).map(([name, value]) => ({ name, value })),
      });
      this.#o.log.info(
        { topics: missing, replicationFactor: settings.replicationFactor, configs: settings.configs },
        'created Kafka topics',
      );
    } catch (err) {
      if (kafkaErrorType(err) !== 'TOPIC_ALREADY_EXISTS') throw err;
    } finally {
      await admin.close().catch(() => {});
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
    // A producer that was lost (failed connect, reset, given up on below) is replaced here.
    if (!this.#closed) await this.#ensureProducer();
    const producer = this.#producer;
    if (producer === null) throw notConnected();
    const sent = producer.send({
      messages: batches.flatMap((b) =>
        b.records.map((r) => ({
          topic: b.topic,
          key: r.key ?? undefined,
          value: r.value,
          headers: this.#headers(r.headers),
          timestamp: BigInt(r.timestamp),
        })),
      ),
    });
    // The client's own request timeout does not end a send to a hung broker (sockets open,
    // nothing answered: about 120 s here). Past the deadline the send is given up — `retry` for
    // the forwarder — and the producer replaced; what Kafka may still have written of it comes
    // back as a duplicate, never a loss.
    const deadlineMs = 2 * this.#o.requestTimeoutMs + 1_000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WeirError('WEIR_KAFKA_TIMEOUT', `Kafka did not answer a produce within ${deadlineMs} ms`, {
              retriable: true,
            }),
          ),
        deadlineMs,
      );
    });
    try {
      await Promise.race([sent, expired]);
    } catch (err) {
      if (err instanceof WeirError && err.code === 'WEIR_KAFKA_TIMEOUT') {
        sent.catch(() => {});
        if (this.#producer === producer) this.#producer = null;
        void producer.close(true).catch(() => {});
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The client wants header names as Buffers; names repeat, so theirs are made once. */
  readonly #headerNames = new Map<string, Buffer>();
  #headers(headers: Readonly<Record<string, Buffer>>): Map<Buffer, Buffer> {
    const out = new Map<Buffer, Buffer>();
    for (const name in headers) {
      let key = this.#headerNames.get(name);
      if (key === undefined) {
        key = Buffer.from(name);
        this.#headerNames.set(name, key);
      }
      out.set(key, headers[name]!);
    }
    return out;
  }

  /** Drops the producer (its producer id is spoiled); the next send or probe connects a new one. */
  async #resetProducer(): Promise<void> {
    const old = this.#producer;
    this.#producer = null;
    await old?.close().catch(() => {});
  }

  /** A metadata request without topics (brokers only) over the producer's connection. */
  async probe(): Promise<void> {
    await this.#ensureProducer();
    const producer = this.#producer;
    if (producer === null) throw notConnected();
    await producer.metadata({ topics: [], forceUpdate: true, retries: 0 });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    this.#producer = null;
    await producer?.close();
  }
}

function closedError(): WeirError {
  return new WeirError('WEIR_KAFKA_CLOSED', 'Kafka sink closed while connecting');
}
