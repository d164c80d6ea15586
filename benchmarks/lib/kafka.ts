// The benchmarks' Kafka: a local single-node broker (tools/kafka/local-kafka.ts) with a 1 GB heap
// in a fresh state dir on free ports, or one already running (--kafka-dir DIR of a local broker,
// or --kafka-brokers LIST). The outage case stops and restarts it, so it needs a state dir.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { kafkaClient, prepareAppendTimeTopics, withAdmin } from '../../device-sim/kafka.ts';
import {
  freePorts,
  ignoreKafkajsNegativeTimeoutWarnings,
  startKafka,
  stopKafka,
} from '../../tools/kafka/local-kafka.ts';
import { runDir } from './procs.ts';

export const BENCH_KAFKA_HEAP_MB = 1024;

export interface BenchKafka {
  readonly brokers: string[];
  /** State dir of a local broker (null when only brokers were given). */
  readonly dir: string | null;
  /** Stops the broker (a real outage: connections refused). */
  stopBroker(): Promise<void>;
  /** Starts it again on the same ports and data. */
  startBroker(): Promise<void>;
  /** SIGSTOP / SIGCONT of the broker's JVM: a hang rather than a refusal. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Stops it if this run started it. */
  close(): Promise<void>;
}

const say = (line: string) => process.stderr.write(`bench kafka: ${line}\n`);

export async function openBenchKafka(o: { dir?: string; brokers?: string }): Promise<BenchKafka> {
  ignoreKafkajsNegativeTimeoutWarnings();
  const noControl = async () => {
    throw new Error('this benchmark needs a local broker it can stop: pass --kafka-dir or neither option');
  };
  if (o.dir === undefined && o.brokers !== undefined) {
    return {
      brokers: o.brokers.split(','),
      dir: null,
      stopBroker: noControl,
      startBroker: noControl,
      freeze: noControl,
      thaw: noControl,
      close: async () => {},
    };
  }
  let dir = o.dir;
  let ports: { port: number; controllerPort: number };
  const owned = dir === undefined;
  if (dir === undefined) {
    dir = path.join(runDir('kafka'), 'state');
    const [port, controllerPort] = await freePorts(2);
    ports = { port: port!, controllerPort: controllerPort! };
    await startKafka({ dir, ...ports, heapMb: BENCH_KAFKA_HEAP_MB, detached: false, log: say });
  } else {
    const state = JSON.parse(await readFile(path.join(dir, 'kafka.json'), 'utf8')) as {
      port: number;
      controllerPort: number;
    };
    ports = { port: state.port, controllerPort: state.controllerPort };
    await startKafka({ dir, ...ports, heapMb: BENCH_KAFKA_HEAP_MB, log: say });
  }
  const d = dir;
  return {
    brokers: [`127.0.0.1:${ports.port}`],
    dir: d,
    stopBroker: async () => {
      // An outage, not a maintenance stop: no waiting for a controlled shutdown.
      await stopKafka({ dir: d, timeoutMs: 2000 });
    },
    startBroker: async () => {
      await startKafka({ dir: d, ...ports, heapMb: BENCH_KAFKA_HEAP_MB, detached: !owned, log: say });
    },
    freeze: async () => {
      process.kill(await brokerPid(d), 'SIGSTOP');
    },
    thaw: async () => {
      process.kill(await brokerPid(d), 'SIGCONT');
    },
    close: async () => {
      if (!owned) return;
      await stopKafka({ dir: d }).catch(() => {});
      await rm(path.dirname(d), { recursive: true, force: true });
    },
  };
}

async function brokerPid(dir: string): Promise<number> {
  return Number((await readFile(path.join(dir, 'kafka.pid'), 'utf8')).trim());
}

/** Creates the topics with LogAppendTime, so Kafka stamps each record when it appends it. */
export async function prepareTopics(brokers: readonly string[], topics: readonly string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await withAdmin(kafkaClient(brokers, 'weir-bench'), (admin) =>
        prepareAppendTimeTopics(admin, topics, { partitions: 1, replicationFactor: 1 }),
      );
      return;
    } catch (err) {
      // On a loaded machine a new topic's leader can take longer to appear than the admin client
      // waits (UNKNOWN_TOPIC_OR_PARTITION). Once created, the topic is found and checked next time.
      if (attempt >= 3) throw err;
      await sleep(2000);
    }
  }
}

/** High watermark of each partition of a topic. */
export async function highWatermarks(
  brokers: readonly string[],
  topic: string,
): Promise<Map<number, number>> {
  return withAdmin(kafkaClient(brokers, 'weir-bench'), async (admin: Admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
  });
}
