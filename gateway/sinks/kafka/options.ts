// What every Kafka client adapter is built from (create.ts maps the `kafka` config section onto it).
import type { Logger } from 'pino';
import type { KafkaSecurity } from '../../config/kafka-security.ts';
import type { ReplicationSetting } from './topics.ts';

export interface KafkaAdapterOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly compression: 'none' | 'gzip' | 'zstd';
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  /** Topics to create at connect time when missing (empty: create none). */
  readonly createTopics: readonly string[];
  readonly partitions: number;
  /** Of created topics; topics.ts resolves auto against the cluster's size. */
  readonly replicationFactor: ReplicationSetting;
  readonly minInsyncReplicas: ReplicationSetting;
  /** SASL and TLS, resolved with the config (config/kafka-security.ts); default: neither. */
  readonly security?: KafkaSecurity;
  readonly log: Logger;
}
