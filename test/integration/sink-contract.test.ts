// One contract, every Kafka adapter, the real broker: what the forwarder relies on.
//  - send() delivers every batch of a call (several topics) with key, value, headers (a header
//    name with several values too) and timestamp intact and in order, and says `ok` per batch;
//  - a batch Kafka refuses for good comes back `rejected` (not retried forever) while the other
//    batches of the same call are delivered;
//  - with Kafka unreachable, connect() rejects in bounded time and send() reports `retry` — no throw;
//  - keyed records land on the partition the Java client picks, so switching clients keeps every
//    device on its partition.
// node-rdkafka is opt-in (`npm run weir -- kafka install-rdkafka`, a native build): where it cannot
// load, its suite fails under CI (which installs it) and is reported as skipped, with the reason,
// elsewhere.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import process from 'node:process';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { Batch, OutboundRecord, Sink } from '../../gateway/contracts.ts';
import { KafkajsSink } from '../../gateway/sinks/kafka/kafkajs.ts';
import { PlatformaticSink } from '../../gateway/sinks/kafka/platformatic.ts';
import { RdkafkaSink } from '../../gateway/sinks/kafka/rdkafka.ts';
import { loadRdkafka } from '../../gateway/sinks/kafka/rdkafka-lib.ts';
import { consumeAll, testKafka, testKafkaBrokers } from '../helpers/kafka.ts';
import { freePort } from '../support/faults.ts';
import { javaPartition, MURMUR2_VECTORS, murmur2 } from '../support/murmur2.ts';

type SinkFactory = (opts: {
  brokers: string[];
  createTopics: string[];
  requestTimeoutMs?: number;
  partitions?: number;
}) => Sink;

const common = {
  clientId: 'weir-contract',
  compression: 'gzip' as const,
  connectionTimeoutMs: 2000,
  partitions: 1,
  replicationFactor: -1,
  minInsyncReplicas: -1,
  log: pino({ level: 'silent' }),
};
const rdkafka = await loadRdkafka().catch((err: Error) => err);
const adapters: Record<string, SinkFactory | Error> = {
  kafkajs: (o) => new KafkajsSink({ ...common, requestTimeoutMs: 5000, ...o }),
  platformatic: (o) => new PlatformaticSink({ ...common, requestTimeoutMs: 5000, ...o }),
  rdkafka:
    rdkafka instanceof Error
      ? rdkafka
      : (o) => new RdkafkaSink(rdkafka, { ...common, requestTimeoutMs: 5000, ...o }),
};

test("the reference partitioner matches the Java client (Kafka's murmur2 test vectors)", () => {
  for (const [key, hash] of MURMUR2_VECTORS) assert.equal(murmur2(Buffer.from(key)), hash, key);
});

function records(prefix: string, n: number, valueBytes = 40): OutboundRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`${prefix}-dev-${i % 5}`),
    value: randomBytes(valueBytes), // incompressible: sizes stay what the test says
    headers: {
      'mqtt-topic': Buffer.from(`t/${prefix}/${i}`),
      'weir-gateway-id': Buffer.from('gw-1'),
      // An MQTT 5 user property sent twice: Kafka gets a header per value.
      ...(i % 3 === 0 && { tag: [Buffer.from('north'), Buffer.from(`n${i}`)] }),
    },
    timestamp: 1_763_800_000_000 + i,
  }));
}

function batch(topic: string, recs: OutboundRecord[]): Batch {
  return { topic, records: recs, bytes: recs.reduce((n, r) => n + r.value.length, 0) };
}

for (const [name, make] of Object.entries(adapters)) {
  if (make instanceof Error) {
    describe(`Kafka sink contract: ${name}`, () => {
      const skip = process.env.CI ? false : `${name} unavailable here: ${make.message}`;
      test('the client library loads', { skip }, () => {
        throw make;
      });
    });
    continue;
  }
  describe(`Kafka sink contract: ${name}`, () => {
    test('delivers every batch of a call, fields intact, in order', async (t) => {
      const a = `contract.${name}.a.${randomUUID().slice(0, 8)}`;
      const b = `contract.${name}.b.${randomUUID().slice(0, 8)}`;
      const sink = make({ brokers: testKafkaBrokers(), createTopics: [a, b] });
      t.after(() => sink.close());
      await sink.connect();
      const ra = records('a', 300);
      const rb = records('b', 120);
      const first = await sink.send([batch(a, ra.slice(0, 150)), batch(b, rb), batch(a, ra.slice(150))]);
      assert.deepEqual(
        first.map((o) => o.status),
        ['ok', 'ok', 'ok'],
      );
      const got = await consumeAll({ topics: [a, b], expected: 420, timeoutMs: 20_000 });
      for (const [topic, sent] of [
        [a, ra],
        [b, rb],
      ] as const) {
        const mine = got.filter((m) => m.topic === topic).sort((x, y) => Number(x.offset) - Number(y.offset));
        assert.equal(mine.length, sent.length);
        mine.forEach((m, i) => {
          const r = sent[i]!;
          assert.deepEqual(m.key, r.key);
          assert.deepEqual(m.value, r.value);
          assert.equal(m.timestamp, String(r.timestamp));
          assert.deepEqual(m.headers, r.headers); // the consumer gives a repeated name's values as an array
        });
      }
    });

    test('a batch Kafka refuses for good is rejected; the others of the call are delivered', async (t) => {
      const small = `contract.${name}.small.${randomUUID().slice(0, 8)}`;
      const fine = `contract.${name}.fine.${randomUUID().slice(0, 8)}`;
      const admin = testKafka().admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          {
            topic: small,
            numPartitions: 1,
            replicationFactor: 1,
            configEntries: [{ name: 'max.message.bytes', value: '2048' }],
          },
        ],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const sink = make({ brokers: testKafkaBrokers(), createTopics: [fine] });
      t.after(() => sink.close());
      await sink.connect();
      const outcomes = await sink.send([batch(fine, records('f', 10)), batch(small, records('s', 1, 8000))]);
      assert.equal(outcomes[0]!.status, 'ok');
      assert.equal(outcomes[1]!.status, 'rejected');
      assert.match(outcomes[1]!.status === 'rejected' ? outcomes[1]!.reason : '', /too_large/);
      assert.equal((await consumeAll({ topics: [fine], expected: 10, timeoutMs: 10_000 })).length, 10);
    });

    test('close() while connect() is in flight leaves nothing connected', async () => {
      const topic = `contract.${name}.close.${randomUUID().slice(0, 8)}`;
      const sink = make({ brokers: testKafkaBrokers(), createTopics: [topic] });
      const connecting = sink.connect();
      await sink.close();
      await assert.rejects(connecting, (err: Error & { code?: string }) => err.code === 'WEIR_KAFKA_CLOSED');
      const outcomes = await sink.send([batch(topic, records('c', 1))]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['retry'],
      );
    });

    test('Kafka unreachable: connect rejects in bounded time, send reports retry', async () => {
      const sink = make({
        brokers: [`127.0.0.1:${await freePort()}`],
        createTopics: ['x'],
        requestTimeoutMs: 2000,
      });
      const started = Date.now();
      await assert.rejects(sink.connect());
      assert.ok(Date.now() - started < 30_000, `gave up after ${Date.now() - started} ms`);
      const outcomes = await sink.send([batch('x', records('u', 2))]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['retry'],
      );
      await sink.close();
    });

    test('keyed records land on the partition the Java client picks', async (t) => {
      const topic = `contract.${name}.keys.${randomUUID().slice(0, 8)}`;
      const partitions = 6;
      const sink = make({ brokers: testKafkaBrokers(), createTopics: [topic], partitions });
      t.after(() => sink.close());
      await sink.connect();
      // Keys chosen so the Java client puts 2, 4, …, 12 records on partitions 0…5: any other
      // mapping is all but certain to show different counts.
      const want = Array.from({ length: partitions }, (_, p) => 2 * (p + 1));
      const have = want.map(() => 0);
      const recs: OutboundRecord[] = [];
      for (let i = 0; i < 10_000 && recs.length < 42; i++) {
        const key = Buffer.from(`device-${i}-${randomUUID().slice(0, 4)}`);
        const p = javaPartition(key, partitions);
        if (have[p]! >= want[p]!) continue;
        have[p]!++;
        recs.push({ key, value: Buffer.from(`v${i}`), headers: {}, timestamp: Date.now() });
      }
      assert.deepEqual(have, want);
      const outcomes = await sink.send([batch(topic, recs)]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['ok'],
      );
      const admin = testKafka().admin();
      await admin.connect();
      t.after(() => admin.disconnect());
      const offsets = await admin.fetchTopicOffsets(topic);
      assert.deepEqual(
        offsets.sort((x, y) => x.partition - y.partition).map((o) => Number(o.high) - Number(o.low)),
        want,
      );
    });
  });
}
