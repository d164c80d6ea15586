// Picks the Kafka client adapter named by `kafka.client`. Every adapter passes the same contract
// suite (test/integration/sink-contract.test.ts) against the real broker.
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.ts';
import type { Sink } from '../../contracts.ts';
import { KafkajsSink } from './kafkajs.ts';
import { PlatformaticSink } from './platformatic.ts';

export interface KafkaSinkOptions {
  readonly kafka: Config['kafka'];
  /** Topics to create at connect time when missing. */
  readonly topics: readonly string[];
  readonly log: Logger;
}

export function createKafkaSink({ kafka, topics, log }: KafkaSinkOptions): Sink {
  const opts = {
    brokers: kafka.brokers,
    clientId: kafka.clientId,
    compression: kafka.compression,
    requestTimeoutMs: kafka.requestTimeoutMs,
    connectionTimeoutMs: kafka.connectionTimeoutMs,
    createTopics: kafka.createTopics.enabled ? [...new Set(topics)] : [],
    partitions: kafka.createTopics.partitions,
    replicationFactor: kafka.createTopics.replicationFactor,
    log,
  };
  switch (kafka.client) {
    case 'kafkajs':
      return new KafkajsSink(opts);
    case 'platformatic':
      return new PlatformaticSink(opts);
  }
}
