// Kafka sink on node-rdkafka (librdkafka): acks=all, idempotent producer, the Java client's
// murmur2 partitioner. Every record gets a delivery report; a batch's outcome is read from the
// reports of its own records, so a refused batch is isolated without resending the others.
// message.timeout.ms bounds a send, so an outage ends in `retry` and the forwarder owns the backoff.
import { NO_SECURITY } from '../../config/kafka-security.ts';
import type { Batch, RecordHeaders } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { rateLimited } from '../../log.ts';
import { KafkaAdapter, type TopicAdmin } from './adapter.ts';
import { noAnswer } from './errors.ts';
import type { KafkaAdapterOptions } from './options.ts';
import { isPermanent, spoilsProducer } from './outcomes.ts';
import {
  ERR_AUTHENTICATION,
  ERR_FATAL,
  ERR_SSL,
  ERR_TIMED_OUT,
  kafkaErrorName,
  type Rdkafka,
  type RdkafkaConfig,
  type RdkafkaError,
  type RdkafkaProducer,
} from './rdkafka-lib.ts';
import { librdkafkaSecurity } from './security.ts';
import type { TopicSettings } from './topics.ts';

/** How often delivery reports are collected while a send waits for them. */
const POLL_MS = 2;
/** How long past message.timeout.ms a send waits for missing delivery reports. */
const REPORT_GRACE_MS = 5_000;

/** librdkafka's configuration of weir's clients, in one place (CONFIGURATION.md of librdkafka). */
export interface RdkafkaClientConfig {
  /** Connection properties every client shares (the admin client uses only these). */
  readonly client: RdkafkaConfig;
  /** `client` plus the producer's global properties. */
  readonly producer: RdkafkaConfig;
  /** The producer's topic-level properties. */
  readonly topic: RdkafkaConfig;
}

export function rdkafkaConfig(o: KafkaAdapterOptions): RdkafkaClientConfig {
  const requestTimeoutMs = Math.min(o.requestTimeoutMs, 300_000);
  const client: RdkafkaConfig = {
    'bootstrap.servers': o.brokers.join(','),
    'client.id': o.clientId,
    'socket.connection.setup.timeout.ms': Math.max(o.connectionTimeoutMs, 1_000),
    'socket.timeout.ms': Math.max(requestTimeoutMs, 10),
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 2_000,
    // Outages are reported once by the forwarder.
    'log.connection.close': false,
    ...librdkafkaSecurity(o.security ?? NO_SECURITY),
  };
  const producer: RdkafkaConfig = {
    ...client,
    'enable.idempotence': true,
    'max.in.flight.requests.per.connection': 5,
    // weir batches itself; a short linger only lets one send's records share a request.
    'linger.ms': 2,
    'retry.backoff.ms': 100,
    'retry.backoff.max.ms': 1_000,
    dr_cb: true,
  };
  const topic: RdkafkaConfig = {
    acks: 'all',
    'compression.codec': o.compression,
    // The Java client's key → partition mapping (murmur2 of the key bytes, made positive, modulo
    // the partition count), so a switch of client library keeps every device on its partition.
    partitioner: 'murmur2_random',
    'request.timeout.ms': requestTimeoutMs,
    // Bounds a record's delivery, retries included: past it the send reports `retry`.
    'message.timeout.ms': requestTimeoutMs,
  };
  return { client, producer, topic };
}

/** One send waiting for the delivery reports of its records (null: delivered). */
interface Pending {
  remaining: number;
  readonly reports: (RdkafkaError | null)[];
  readonly done: () => void;
}

/** What each produced record carries to its delivery report. */
interface Opaque {
  readonly pending: Pending;
  readonly index: number;
}

export class RdkafkaSink extends KafkaAdapter<RdkafkaProducer> {
  readonly name = 'rdkafka';
  readonly #lib: Rdkafka;
  readonly #warnFatal: () => void;

  /** `lib` is node-rdkafka, from loadRdkafka(). */
  constructor(lib: Rdkafka, opts: KafkaAdapterOptions) {
    super(opts);
    this.#lib = lib;
    if (!lib.features.includes(opts.compression) && opts.compression !== 'none') {
      throw new WeirError(
        'WEIR_CONFIG_INVALID',
        `kafka.compression: ${opts.compression} is not built into this librdkafka (features: ${lib.features.join(', ')})`,
      );
    }
    const security = opts.security ?? NO_SECURITY;
    const needs = [
      ...(security.tls !== null ? ['ssl'] : []),
      ...(security.sasl !== null && security.sasl.mechanism !== 'plain' ? ['sasl_scram'] : []),
    ].filter((f) => !lib.features.includes(f));
    if (needs.length > 0) {
      throw new WeirError(
        'WEIR_CONFIG_INVALID',
        `kafka.sasl / kafka.tls need ${needs.join(' and ')} in librdkafka, which this build of node-rdkafka lacks (features: ${lib.features.join(', ')}); install libssl-dev and libsasl2-dev and run npm rebuild node-rdkafka`,
      );
    }
    this.#warnFatal = rateLimited(60_000, (suppressed) =>
      opts.log.warn({ suppressed }, 'Kafka producer hit a fatal error; replacing it'),
    );
  }

  protected override async open(): Promise<RdkafkaProducer> {
    const conf = rdkafkaConfig(this.options);
    const producer = new this.#lib.Producer(conf.producer, conf.topic);
    producer.on('delivery-report', (err, report) => settle(err, report.opaque));
    let refused: WeirError | null = null;
    producer.on('event.error', (err) => {
      refused ??= this.#securityError(err);
      if (err.isFatal === true || this.#lib.errorCode(err) === ERR_FATAL) {
        this.spoil();
        this.#warnFatal();
      }
      this.options.log.debug({ err }, 'librdkafka error');
    });
    try {
      await new Promise<void>((resolve, reject) =>
        producer.connect(
          { timeout: this.options.connectionTimeoutMs + this.options.requestTimeoutMs },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    } catch (err) {
      await disconnect(producer);
      // librdkafka retries a refused login until the connect times out; the error events say why.
      const security = this.#securityError(err as RdkafkaError) ?? refused;
      if (security !== null) throw security;
      throw new WeirError('WEIR_KAFKA_UNREACHABLE', `Kafka unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // Topics are created once the producer is connected: a refused login or certificate shows
    // there (the admin client only times out).
    try {
      await this.createMissingTopics(async () => this.#topicAdmin(producer));
    } catch (err) {
      await disconnect(producer);
      throw err;
    }
    return producer;
  }

  /** WEIR_KAFKA_AUTH / WEIR_KAFKA_TLS for librdkafka's authentication and TLS errors, else null. */
  #securityError(err: RdkafkaError): WeirError | null {
    const code = this.#lib.errorCode(err);
    if (code === ERR_AUTHENTICATION) {
      return new WeirError(
        'WEIR_KAFKA_AUTH',
        'Kafka refused the SASL credentials or mechanism (kafka.sasl)',
        {
          cause: err,
        },
      );
    }
    if (code === ERR_SSL) {
      return new WeirError('WEIR_KAFKA_TLS', `TLS to Kafka failed (kafka.tls): ${err.message}`, {
        cause: err,
      });
    }
    return null;
  }

  /**
   * The cluster's size from the connected producer's metadata; every topic is asked for
   * (node-rdkafka's admin client cannot list them), and one that exists already comes back as not
   * created.
   */
  #topicAdmin(producer: RdkafkaProducer): TopicAdmin {
    return {
      existing: async () => null,
      brokerCount: () => brokerCount(producer, this.options.requestTimeoutMs),
      create: (topics, partitions, settings) => this.#createTopics(topics, partitions, settings),
      close: async () => {},
    };
  }

  async #createTopics(
    topics: readonly string[],
    partitions: number,
    settings: TopicSettings,
  ): Promise<string[]> {
    const admin = this.#lib.AdminClient.create(rdkafkaConfig(this.options).client);
    try {
      const created = await Promise.all(
        topics.map(
          (topic) =>
            new Promise<string | null>((resolve, reject) =>
              admin.createTopic(
                {
                  topic,
                  num_partitions: partitions,
                  replication_factor: settings.replicationFactor,
                  config: { ...settings.configs },
                },
                this.options.requestTimeoutMs,
                (err) => {
                  if (!err) resolve(topic);
                  else if (kafkaErrorName(this.#lib.errorCode(err)) === 'TOPIC_ALREADY_EXISTS') resolve(null);
                  else reject(err);
                },
              ),
            ),
        ),
      );
      return created.filter((t) => t !== null);
    } finally {
      admin.disconnect();
    }
  }

  /**
   * Produces every record of the call; resolves with each batch's first error (null: delivered).
   * Never rejects: a batch's outcome is read from the delivery reports of its own records.
   */
  protected override async produce(
    producer: RdkafkaProducer,
    batches: readonly Batch[],
  ): Promise<(Error | null)[]> {
    const errors: (Error | null)[] = batches.map(() => null);
    const owner: number[] = []; // record index in this call → its batch
    let done = () => {};
    const delivered = new Promise<void>((resolve) => {
      done = resolve;
    });
    const pending: Pending = { remaining: 0, reports: [], done: () => done() };
    let stopped = false;
    batches.forEach((b, i) => {
      if (stopped) {
        errors[i] = new WeirError('WEIR_KAFKA_NOT_SENT', 'not sent: an earlier batch of the call failed');
        return;
      }
      for (const r of b.records) {
        try {
          const opaque: Opaque = { pending, index: owner.length };
          producer.produce(b.topic, null, r.value, r.key, r.timestamp, opaque, headerList(r.headers));
        } catch (err) {
          errors[i] = this.#toError(err);
          // Later batches may share this one's partitions: sending them now would reorder them.
          if (!isPermanent(errors[i]!)) stopped = true;
          break;
        }
        owner.push(i);
        pending.remaining++;
      }
    });
    if (pending.remaining > 0) {
      // Delivery reports arrive through poll(); message.timeout.ms bounds them, the timer is a
      // safety net should the client go away with reports outstanding.
      const poll = setInterval(() => {
        try {
          producer.poll();
        } catch {
          // Disconnected under the send (close() before the drain ended): the timer below ends it.
        }
      }, POLL_MS);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.requestTimeoutMs + REPORT_GRACE_MS);
      });
      try {
        await Promise.race([delivered, timedOut]);
      } finally {
        clearInterval(poll);
        clearTimeout(timer);
      }
    }
    owner.forEach((i, index) => {
      if (errors[i] !== null) return;
      const report = pending.reports[index];
      if (report === undefined) {
        errors[i] = new WeirError('WEIR_KAFKA_TIMEOUT', 'no delivery report in time');
      } else if (report !== null) {
        errors[i] = this.#toError(report);
      }
    });
    // A spoiled producer id or a fatal error: the next send replaces the producer first.
    if (errors.some((e) => e !== null && this.#needsNewProducer(e))) this.spoil();
    return errors;
  }

  /** The error with its Kafka protocol error name as `type`, which weir's outcome logic reads. */
  #toError(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = typeof (e as RdkafkaError).code === 'number' ? this.#lib.errorCode(e as RdkafkaError) : -1;
    const type = kafkaErrorName(code);
    if (type !== null) Object.defineProperty(e, 'type', { value: type, enumerable: true });
    return e;
  }

  #needsNewProducer(err: Error): boolean {
    if (spoilsProducer(err)) return true;
    const e = err as RdkafkaError;
    return e.isFatal === true || (typeof e.code === 'number' && this.#lib.errorCode(e) === ERR_FATAL);
  }

  /** A metadata request for the topics the producer knows (none yet: brokers only). */
  protected override async ask(producer: RdkafkaProducer): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      producer.getMetadata({ allTopics: false, timeout: this.options.requestTimeoutMs }, (err) => {
        if (!err) resolve();
        else if (this.#lib.errorCode(err) === ERR_TIMED_OUT)
          reject(noAnswer('metadata request', this.options.requestTimeoutMs, err));
        else reject(err);
      }),
    );
  }

  protected override closeProducer(producer: RdkafkaProducer): Promise<void> {
    return disconnect(producer);
  }
}

/** Delivery report callback: records the report in its send's slot and resolves it at the last. */
function settle(err: RdkafkaError | null, opaque: unknown): void {
  const { pending, index } = opaque as Opaque;
  pending.reports[index] = err;
  pending.remaining--;
  if (pending.remaining === 0) pending.done();
}

function headerList(headers: RecordHeaders): Record<string, Buffer>[] {
  const out: Record<string, Buffer>[] = [];
  for (const name in headers) {
    const value = headers[name]!;
    // A name with several values (sent more than once) becomes one header per value.
    if (Buffer.isBuffer(value)) out.push({ [name]: value });
    else for (const v of value) out.push({ [name]: v });
  }
  return out;
}

function disconnect(producer: RdkafkaProducer): Promise<void> {
  return new Promise((resolve) => {
    try {
      producer.disconnect(2_000, () => resolve());
    } catch {
      resolve(); // never connected: node-rdkafka's flush throws "Producer not connected"
    }
  });
}

/** How many brokers the cluster has (the connected producer's metadata). */
function brokerCount(producer: RdkafkaProducer, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) =>
    producer.getMetadata({ allTopics: false, timeout: timeoutMs }, (err, metadata) => {
      if (err) reject(err);
      else resolve((metadata as { brokers?: unknown[] }).brokers?.length ?? 1);
    }),
  );
}
