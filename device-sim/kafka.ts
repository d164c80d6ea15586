// Kafka access for verify and the demo: a quiet kafkajs client (its retries are logged at ERROR
// level even when harmless; real failures still reject the calls), and preparing the fleet topics
// so Kafka stamps each record with its append time.
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { type KafkaSecurity, NO_SECURITY } from '../gateway/config/kafka-security.ts';
import { ignoreKafkajsNegativeTimeoutWarnings } from '../gateway/sinks/kafka/kafkajs-warnings.ts';
import { kafkajsSecurity } from '../gateway/sinks/kafka/security.ts';

const { Kafka: KafkaClient, logLevel, ConfigResourceTypes, ConfigSource } = kafkajs;

export const TIMESTAMP_TYPE = 'message.timestamp.type';

/** `security`: SASL/TLS as weir's config sets them (kafka.sasl, kafka.tls); default none. */
export function kafkaClient(
  brokers: readonly string[],
  clientId: string,
  security: KafkaSecurity = NO_SECURITY,
): Kafka {
  ignoreKafkajsNegativeTimeoutWarnings();
  return new KafkaClient({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    ...kafkajsSecurity(security),
  });
}

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** `message.timestamp.type` of each topic (CreateTime or LogAppendTime); missing topics are left out. */
export async function timestampTypes(admin: Admin, topics: readonly string[]): Promise<Map<string, string>> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  const out = new Map<string, string>();
  if (present.length === 0) return out;
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: [TIMESTAMP_TYPE],
    })),
  });
  for (const r of described.resources) {
    const entry = r.configEntries.find((e) => e.configName === TIMESTAMP_TYPE);
    if (entry) out.set(r.resourceName, entry.configValue);
  }
  return out;
}

export interface PreparedTopic {
  readonly topic: string;
  readonly action: 'created' | 'switched' | 'unchanged';
}

/**
 * Makes Kafka stamp records of these topics with their append time (LogAppendTime), so verify can
 * measure device → Kafka latency: creates missing topics that way, switches existing ones. The
 * switch keeps the topic's other settings (kafkajs has only the non-incremental AlterConfigs,
 * which would reset them, so they are read first and written back).
 */
export async function prepareAppendTimeTopics(
  admin: Admin,
  topics: readonly string[],
  create: { partitions: number; replicationFactor: number } = { partitions: 1, replicationFactor: -1 },
): Promise<PreparedTopic[]> {
  const wanted = [...new Set(topics)];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t));
  const out: PreparedTopic[] = [];
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: create.partitions,
        replicationFactor: create.replicationFactor,
        configEntries: [{ name: TIMESTAMP_TYPE, value: 'LogAppendTime' }],
      })),
    });
    for (const topic of missing) out.push({ topic, action: 'created' });
  }
  const present = wanted.filter((t) => existing.has(t));
  if (present.length > 0) {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    for (const r of described.resources) {
      const current = r.configEntries.find((e) => e.configName === TIMESTAMP_TYPE)?.configValue;
      if (current === 'LogAppendTime') {
        out.push({ topic: r.resourceName, action: 'unchanged' });
        continue;
      }
      // Settings made on this topic (not broker defaults) are kept.
      const own = r.configEntries
        .filter(
          (e) =>
            e.configSource === ConfigSource.TOPIC_CONFIG &&
            !e.readOnly &&
            !e.isSensitive &&
            e.configName !== TIMESTAMP_TYPE,
        )
        .map((e) => ({ name: e.configName, value: e.configValue }));
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: r.resourceName,
            configEntries: [...own, { name: TIMESTAMP_TYPE, value: 'LogAppendTime' }],
          },
        ],
      });
      out.push({ topic: r.resourceName, action: 'switched' });
    }
  }
  return out;
}
