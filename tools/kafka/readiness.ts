// When a local Kafka node is ready: it has logged `Kafka Server started` and answers a metadata
// request from kafkajs (what the gateway uses) on its broker port.
import { readFile } from 'node:fs/promises';
import { KAFKA, LocalKafkaError } from './service.ts';

const READY_LINE = 'Kafka Server started';

/** One metadata round trip with kafkajs, no retries. */
export async function metadataAnswers(brokers: string): Promise<boolean> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    clientId: 'weir-kafka-probe',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Waits until the node just spawned in `nodeDir` is ready. Throws WEIR_KAFKA_START_FAILED when it
 * exits first, WEIR_KAFKA_START_TIMEOUT at `deadline`; their messages start with `who` ('Kafka',
 * 'Kafka node in DIR') and say it did not become ready `inTime` ('within 90 s', 'in time').
 */
export async function waitBrokerReady(o: {
  nodeDir: string;
  port: number;
  exited: () => string | undefined;
  deadline: number;
  who: string;
  inTime: string;
}): Promise<void> {
  const { logFile } = KAFKA.files(o.nodeDir);
  let sawReadyLine = false;
  const outcome = await KAFKA.waitReady(o.nodeDir, {
    exited: o.exited,
    deadline: o.deadline,
    ready: async () => {
      if (!sawReadyLine)
        sawReadyLine = (await readFile(logFile, 'utf8').catch(() => '')).includes(READY_LINE);
      return sawReadyLine && (await metadataAnswers(`127.0.0.1:${o.port}`));
    },
  });
  if (outcome === 'ready') return;
  if (outcome === 'timeout') {
    throw new LocalKafkaError(
      'WEIR_KAFKA_START_TIMEOUT',
      `${o.who} did not become ready ${o.inTime} (${sawReadyLine ? 'no metadata answer' : `no '${READY_LINE}' line`}); log: ${logFile}`,
      { logTail: await KAFKA.logTail(o.nodeDir) },
    );
  }
  throw new LocalKafkaError(
    'WEIR_KAFKA_START_FAILED',
    `${o.who} exited during startup (${outcome.exited}); log: ${logFile}`,
    { logTail: await KAFKA.logTail(o.nodeDir) },
  );
}
