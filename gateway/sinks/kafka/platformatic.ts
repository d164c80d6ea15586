// Kafka sink on @platformatic/kafka (pure TypeScript, maintained): acks=all, idempotent producer.
// Same contract as the kafkajs adapter: one call in flight (the forwarder serialises), one
// outcome per batch, never throws; short client retries, the forwarder owns the backoff.
import { Admin, compatibilityPartitioner, Producer } from '@platformatic/kafka';
import { NO_SECURITY } from '../../config/kafka-security.ts';
import type { Batch, RecordHeaders } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { KafkaAdapter, type TopicAdmin } from './adapter.ts';
import { kafkaErrorType } from './errors.ts';
import { platformaticSecurity } from './security.ts';

/** Header names kept as Buffers: weir's own and the devices' usual user properties, not every one. */
const MAX_HEADER_NAMES = 1_024;

export class PlatformaticSink extends KafkaAdapter<Producer> {
  readonly name = 'platformatic';

  #base() {
    return {
      clientId: this.options.clientId,
      bootstrapBrokers: [...this.options.brokers],
      timeout: this.options.requestTimeoutMs,
      connectTimeout: this.options.connectionTimeoutMs,
      retries: 3,
      retryDelay: 200,
      ...platformaticSecurity(this.options.security ?? NO_SECURITY),
    };
  }

  protected override async open(): Promise<Producer> {
    await this.createMissingTopics(async () => this.#topicAdmin());
    const producer = new Producer({
      ...this.#base(),
      idempotent: true,
      acks: -1,
      compression: this.options.compression,
      autocreateTopics: true,
      // The Java client's (and kafkajs's) key → partition mapping, so a switch of client library
      // keeps every device on its partition.
      partitioner: compatibilityPartitioner,
    });
    try {
      await producer.metadata({ topics: [...this.options.createTopics] });
    } catch (err) {
      await producer.close().catch(() => {});
      throw err;
    }
    return producer;
  }

  #topicAdmin(): TopicAdmin {
    const admin = new Admin(this.#base());
    return {
      existing: () => admin.listTopics(),
      brokerCount: async () => (await admin.metadata({ topics: [] })).brokers.size,
      create: async (topics, partitions, settings) => {
        try {
          await admin.createTopics({
            topics: [...topics],
            partitions,
            replicas: settings.replicationFactor,
            configs: Object.entries(settings.configs).map(([name, value]) => ({ name, value })),
          });
        } catch (err) {
          // A topic that exists already is not an error (TopicAdmin.create).
          if (kafkaErrorType(err) !== 'TOPIC_ALREADY_EXISTS') throw err;
          return [];
        }
        return topics;
      },
      close: () => admin.close().catch(() => {}),
    };
  }

  protected override async produce(producer: Producer, batches: readonly Batch[]): Promise<null[]> {
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
    const deadlineMs = 2 * this.options.requestTimeoutMs + 1_000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WeirError('WEIR_KAFKA_TIMEOUT', `Kafka did not answer a produce within ${deadlineMs} ms`),
          ),
        deadlineMs,
      );
    });
    try {
      await Promise.race([sent, expired]);
    } catch (err) {
      if (err instanceof WeirError && err.code === 'WEIR_KAFKA_TIMEOUT') {
        sent.catch(() => {});
        this.forget(producer);
        void producer.close(true).catch(() => {});
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return batches.map(() => null);
  }

  /** The client wants header names as Buffers; names repeat, so theirs are made once. */
  readonly #headerNames = new Map<string, Buffer>();
  #headers(headers: RecordHeaders): Map<Buffer, Buffer> {
    const out = new Map<Buffer, Buffer>();
    for (const name in headers) {
      let key = this.#headerNames.get(name);
      if (key === undefined) {
        key = Buffer.from(name);
        if (this.#headerNames.size < MAX_HEADER_NAMES) this.#headerNames.set(name, key);
      }
      const value = headers[name]!;
      if (Buffer.isBuffer(value)) {
        out.set(key, value);
        continue;
      }
      // A name with several values: the Map's keys are compared by identity, so each value gets
      // a Buffer of its own for the name, and the client writes one header per entry.
      value.forEach((v, i) => {
        out.set(i === 0 ? key : Buffer.from(name), v);
      });
    }
    return out;
  }

  /** A metadata request without topics (brokers only) over the producer's connection. */
  protected override async ask(producer: Producer): Promise<void> {
    await producer.metadata({ topics: [], forceUpdate: true, retries: 0 });
  }

  protected override closeProducer(producer: Producer): Promise<void> {
    return producer.close();
  }
}
