// Part of the Kafka sink contract, every adapter, a real broker of the test's own: a sink that has
// lost its producer while Kafka was down — a connect that failed, or a producer reset (after
// UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER, a fatal client error or a hung send) whose
// reconnect failed — connects again by itself. The forwarder calls connect() once; after that,
// send() must deliver again as soon as Kafka is back, however long the outage.
// Every adapter leaves a reset with no producer, the state a failed connect() leaves, so the
// test drives the sink there through connect() with Kafka stopped.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { Batch, Sink } from '../../gateway/contracts.ts';
import { KafkajsSink } from '../../gateway/sinks/kafka/kafkajs.ts';
import { PlatformaticSink } from '../../gateway/sinks/kafka/platformatic.ts';
import { RdkafkaSink } from '../../gateway/sinks/kafka/rdkafka.ts';
import { loadRdkafka } from '../../gateway/sinks/kafka/rdkafka-lib.ts';
import { DedicatedKafka, highWatermarks, sleep } from '../support/faults.ts';

const rdkafka = await loadRdkafka().catch((err: Error) => err);
type Make = (brokers: string[], topic: string) => Sink;
const common = {
  clientId: 'weir-recovery',
  compression: 'none' as const,
  requestTimeoutMs: 3_000,
  connectionTimeoutMs: 1_000,
  partitions: 1,
  replicationFactor: 1,
  minInsyncReplicas: -1,
  log: pino({ level: 'silent' }),
};
const adapters: Record<string, Make | Error> = {
  kafkajs: (brokers, topic) => new KafkajsSink({ ...common, brokers, createTopics: [topic] }),
  platformatic: (brokers, topic) => new PlatformaticSink({ ...common, brokers, createTopics: [topic] }),
  rdkafka:
    rdkafka instanceof Error
      ? rdkafka
      : (brokers, topic) => new RdkafkaSink(rdkafka, { ...common, brokers, createTopics: [topic] }),
};

function batch(topic: string, n: number): Batch {
  const records = Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`dev-${i % 3}`),
    value: randomBytes(50),
    headers: {},
    timestamp: Date.now(),
  }));
  return { topic, records, bytes: n * 50 };
}

describe('a Kafka sink that lost its producer while Kafka was down reconnects by itself', () => {
  let kafka: DedicatedKafka;
  let running = false;
  before(async () => {
    kafka = await DedicatedKafka.create();
  });
  after(() => kafka.destroy());

  for (const [name, make] of Object.entries(adapters)) {
    const skip =
      make instanceof Error && !process.env.CI ? `${name} unavailable here: ${make.message}` : false;
    test(`${name}: Kafka down, then back: send() delivers with no further connect()`, { skip }, async (t) => {
      if (make instanceof Error) throw make;
      if (running) {
        kafka.kill();
        running = false;
      }
      const topic = `recovery.${name}.${randomUUID().slice(0, 8)}`;
      const sink = make([kafka.brokers], topic);
      t.after(() => sink.close());

      await assert.rejects(sink.connect(), 'connect() while Kafka is down');
      assert.deepEqual(
        (await sink.send([batch(topic, 3)])).map((o) => o.status),
        ['retry'],
        'send() while Kafka is down',
      );
      await assert.rejects(sink.probe(), 'probe() while Kafka is down');

      await kafka.start();
      running = true;
      const back = Date.now();
      // What the forwarder does: the same batch again after a backoff, until it is delivered.
      const pending = batch(topic, 5);
      const started = Date.now();
      let status = '';
      for (let i = 0; i < 40 && status !== 'ok'; i++) {
        status = (await sink.send([pending]))[0]!.status;
        if (status !== 'ok') await sleep(500);
      }
      assert.equal(status, 'ok', `delivers once Kafka is back (gave up after ${Date.now() - started} ms)`);
      assert.equal(await highWatermarks(kafka.brokers, [topic]), 5, 'the batch is in Kafka');
      await sink.probe();
      t.diagnostic(`delivered ${((Date.now() - back) / 1000).toFixed(1)} s after Kafka was back`);
    });
  }
});
