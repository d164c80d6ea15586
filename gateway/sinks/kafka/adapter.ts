// What every Kafka client adapter does the same way, whatever the library: one producer, connected
// once however many callers ask at the same time; missing topics created with the replication the
// cluster calls for; a lost or spoiled producer replaced by the next send or probe; a send's
// outcomes (outcomes.ts); the probe; close. An adapter (kafkajs.ts, platformatic.ts, rdkafka.ts)
// supplies what its library does differently: how a producer opens, produces, answers the probe
// and closes, and the library's options. The Sink contract in contracts.ts is kept here.
import type { Batch, BatchOutcome, Sink } from '../../contracts.ts';
import { closedError, notConnected } from './errors.ts';
import type { KafkaAdapterOptions } from './options.ts';
import { batchOutcome, callOutcomes, sendOneByOne, spoilsProducer } from './outcomes.ts';
import { securityError } from './security.ts';
import { type TopicSettings, topicSettings } from './topics.ts';

/** What creating the missing topics asks of a client (its admin connection, or its producer's). */
export interface TopicAdmin {
  /** The topics that exist; null when the client cannot list them: then every topic is created. */
  existing(): Promise<readonly string[] | null>;
  /** How many brokers the cluster has. */
  brokerCount(): Promise<number>;
  /** Creates `topics`; resolves with those it created (one that exists already is not an error). */
  create(topics: readonly string[], partitions: number, settings: TopicSettings): Promise<readonly string[]>;
  /** Ends the admin connection; called once creating is over, whether it failed or not. */
  close(): Promise<void>;
}

export abstract class KafkaAdapter<P> implements Sink {
  abstract readonly name: string;
  protected readonly options: KafkaAdapterOptions;
  #producer: P | null = null;
  #connecting: Promise<void> | null = null;
  /** Set by spoil(): the next send replaces the producer first. */
  #spoiled = false;
  #closed = false;

  constructor(options: KafkaAdapterOptions) {
    this.options = options;
  }

  /**
   * A connected producer, with the missing topics created (createMissingTopics) before or after
   * it connects, as the client needs. When it rejects, it has closed what it opened.
   */
  protected abstract open(): Promise<P>;

  /**
   * Produces the batches of one call. Resolves, once Kafka answered for every record, with each
   * batch's error (null: delivered); rejects when the call failed as a whole.
   */
  protected abstract produce(producer: P, batches: readonly Batch[]): Promise<(Error | null)[]>;

  /** The probe's one cheap question to Kafka (cluster metadata, no topics). */
  protected abstract ask(producer: P): Promise<void>;

  /** Disconnects a producer. */
  protected abstract closeProducer(producer: P): Promise<void>;

  /** Closes what the client holds beside its producer; close() calls it once, first. */
  protected async closeOthers(): Promise<void> {}

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
    const producer = await this.open();
    if (this.#closed) {
      // close() ran while connecting: nothing may stay connected behind it.
      await this.closeProducer(producer).catch(() => {});
      throw closedError();
    }
    this.#spoiled = false;
    this.#producer = producer;
  }

  /**
   * Creates the topics of `options.createTopics` that do not exist yet, with the replication the
   * cluster's size calls for (topics.ts), through the admin `openAdmin` gives.
   */
  protected async createMissingTopics(openAdmin: () => Promise<TopicAdmin>): Promise<void> {
    const o = this.options;
    if (o.createTopics.length === 0) return;
    const admin = await openAdmin();
    try {
      const existing = new Set((await admin.existing()) ?? []);
      const missing = o.createTopics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      const settings = topicSettings(await admin.brokerCount(), o.replicationFactor, o.minInsyncReplicas);
      const created = await admin.create(missing, o.partitions, settings);
      if (created.length > 0) {
        o.log.info(
          { topics: created, replicationFactor: settings.replicationFactor, configs: settings.configs },
          'created Kafka topics',
        );
      }
    } finally {
      await admin.close();
    }
  }

  async send(batches: readonly Batch[]): Promise<BatchOutcome[]> {
    if (this.#spoiled) await this.#reset();
    return this.#send(batches);
  }

  async #send(batches: readonly Batch[]): Promise<BatchOutcome[]> {
    let errors: (Error | null)[];
    try {
      // A producer that was lost (failed connect, reset) is replaced here, by the next send.
      if (!this.#closed) await this.#ensureProducer();
      const producer = this.#producer;
      if (producer === null) throw notConnected();
      errors = await this.produce(producer, batches);
    } catch (err) {
      const error = err as Error;
      if (spoilsProducer(error)) await this.#reset();
      if (!sendOneByOne(batches, error)) return callOutcomes(batches, error);
      const outcomes: BatchOutcome[] = [];
      for (const b of batches) outcomes.push(...(await this.#send([b])));
      return outcomes;
    }
    return errors.map(batchOutcome);
  }

  /** Drops the producer (its producer id is spoiled); the next send or probe connects a new one. */
  async #reset(): Promise<void> {
    const old = this.#producer;
    this.#producer = null;
    this.#spoiled = false;
    if (old !== null) await this.closeProducer(old).catch(() => {});
  }

  /**
   * The producer hit an error it does not recover from, outside a failed call (a fatal error
   * event, a delivery report): the next send replaces it before producing.
   */
  protected spoil(): void {
    this.#spoiled = true;
  }

  /** Forgets `producer` if it is still the one in use; the caller closes it. */
  protected forget(producer: P): void {
    if (this.#producer === producer) this.#producer = null;
  }

  /** Whether close() was called. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Connects first when there is no producer; the caller bounds the time it may take. */
  async probe(): Promise<void> {
    await this.#ensureProducer();
    const producer = this.#producer;
    if (producer === null) throw notConnected();
    await this.ask(producer);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    this.#producer = null;
    await this.closeOthers();
    if (producer !== null) await this.closeProducer(producer);
  }
}
