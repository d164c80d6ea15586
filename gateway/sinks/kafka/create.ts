// Picks the Kafka client adapter named by `kafka.client`. Every adapter passes the same contract
// suite (test/integration/sink-contract.test.ts) against the real broker. Only the chosen client
// library is loaded: each costs memory for as long as the process lives (@platformatic/kafka
// about 50 MB of RSS, kafkajs about 17 MB, measured on Node 24), and an edge box should not pay
// for the ones it does not use. node-rdkafka is an optional native dependency: its absence fails
// start-up here (WEIR_KAFKA_CLIENT_MISSING) rather than at the first connect.
import type { Logger } from 'pino';
import { type KafkaSecurity, NO_SECURITY } from '../../config/kafka-security.ts';
import type { Config } from '../../config/schema.ts';
import type { Sink } from '../../contracts.ts';
import { loadRdkafka } from './rdkafka-lib.ts';

export interface KafkaSinkOptions {
  readonly kafka: Config['kafka'];
  /** Topics to create at connect time when missing. */
  readonly topics: readonly string[];
  readonly log: Logger;
  /** SASL and TLS with their secrets (LoadedConfig.kafkaSecurity); default: neither. */
  readonly security?: KafkaSecurity;
}

export async function createKafkaSink({
  kafka,
  topics,
  log,
  security = NO_SECURITY,
}: KafkaSinkOptions): Promise<Sink> {
  const opts = {
    brokers: kafka.brokers,
    clientId: kafka.clientId,
    compression: kafka.compression,
    requestTimeoutMs: kafka.requestTimeoutMs,
    connectionTimeoutMs: kafka.connectionTimeoutMs,
    createTopics: kafka.createTopics.enabled ? [...new Set(topics)] : [],
    partitions: kafka.createTopics.partitions,
    replicationFactor: kafka.createTopics.replicationFactor,
    minInsyncReplicas: kafka.createTopics.minInsyncReplicas,
    security,
    log,
  };
  switch (kafka.client) {
    case 'kafkajs': {
      const { KafkajsSink } = await import('./kafkajs.ts');
      return new KafkajsSink(opts);
    }
    case 'platformatic': {
      const { PlatformaticSink } = await import('./platformatic.ts');
      return new PlatformaticSink(opts);
    }
    case 'rdkafka': {
      const [lib, { RdkafkaSink }] = await Promise.all([loadRdkafka(), import('./rdkafka.ts')]);
      return new RdkafkaSink(lib, opts);
    }
  }
}
