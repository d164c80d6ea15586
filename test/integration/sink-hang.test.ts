// A hung Kafka (SIGSTOP: sockets open, nothing answered) after the sink connected: send() must
// come back `retry` within a bound set by kafka.requestTimeoutMs — never wait for ever — and
// deliver again once Kafka answers. One dedicated broker, the adapters in turn.
// (@platformatic/kafka's own timeout does not end a send to a hung broker: its adapter sets a
// deadline of its own.)
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
import { DedicatedKafka, sleep } from '../support/faults.ts';

const REQUEST_TIMEOUT_MS = 3_000;
const rdkafka = await loadRdkafka().catch((err: Error) => err);
type Make = (brokers: string[], topic: string) => Sink;
const common = {
  clientId: 'weir-hang',
  compression: 'none' as const,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  connectionTimeoutMs: 2_000,
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

/** Connects like the forwarder does: a rejected connect is tried again, within a bound. */
async function connectWithin(sink: Sink, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await sink.connect();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

describe('Kafka hangs after the sink connected', () => {
  let kafka: DedicatedKafka;
  before(async () => {
    kafka = await DedicatedKafka.create();
    await kafka.start();
  });
  after(() => kafka.destroy());

  for (const [name, make] of Object.entries(adapters)) {
    const skip =
      make instanceof Error && !process.env.CI ? `${name} unavailable here: ${make.message}` : false;
    test(`${name}: send reports retry in bounded time, then delivers once Kafka answers`, {
      skip,
    }, async (t) => {
      if (make instanceof Error) throw make;
      const topic = `hang.${name}.${randomUUID().slice(0, 8)}`;
      const sink = make([kafka.brokers], topic);
      t.after(() => sink.close());
      await connectWithin(sink, 30_000); // the broker may still be catching up from the previous test
      assert.deepEqual(
        (await sink.send([batch(topic, 5)])).map((o) => o.status),
        ['ok'],
      );

      kafka.freeze();
      let thawed = false;
      t.after(() => {
        if (!thawed) kafka.thaw();
      });
      const started = Date.now();
      const during = await sink.send([batch(topic, 5)]);
      const tookMs = Date.now() - started;
      assert.deepEqual(
        during.map((o) => o.status),
        ['retry'],
      );
      assert.ok(tookMs < 6 * REQUEST_TIMEOUT_MS, `retry came after ${tookMs} ms`);
      kafka.thaw();
      thawed = true;

      let status = '';
      for (let i = 0; i < 20 && status !== 'ok'; i++) {
        status = (await sink.send([batch(topic, 5)]))[0]!.status;
        if (status !== 'ok') await sleep(500);
      }
      assert.equal(status, 'ok', 'delivers again once Kafka answers');
    });
  }
});
