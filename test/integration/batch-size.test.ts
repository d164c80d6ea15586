// A batch filled to batch.maxBytes is one Kafka record batch; with the defaults on both sides
// (batch.maxBytes 1 MiB, the broker's message.max.bytes 1 MiB + 12) Kafka must accept it, for
// every client. Records of ~1.1 KB fill a batch by bytes before maxRecords: if the batcher
// counted only keys, values and headers, Kafka's own per-record overhead would push the batch past
// the broker's limit and every full batch would be refused (dead-lettered as message_too_large).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Batcher } from '../../gateway/batcher/batcher.ts';
import { batchSchema, KAFKA_CLIENTS, kafkaSchema } from '../../gateway/config/schema.ts';
import { createKafkaSink } from '../../gateway/sinks/kafka/create.ts';
import { consumeAll, testKafkaBrokers } from '../helpers/kafka.ts';

describe('full batches fit the broker', () => {
  for (const client of KAFKA_CLIENTS) {
    test(`${client}: batches filled to the default batch.maxBytes are accepted`, async (t) => {
      const topic = `batch-size.${client}.${randomUUID().slice(0, 8)}`;
      const kafka = kafkaSchema.parse({ brokers: testKafkaBrokers(), client });
      const sink = await createKafkaSink({ kafka, topics: [topic], log: pino({ level: 'silent' }) });
      t.after(() => sink.close());
      await sink.connect();
      const batcher = new Batcher({ ...batchSchema.parse({}), lingerMs: 60_000 });
      const total = 2500;
      for (let i = 0; i < total; i++) {
        batcher.add(
          topic,
          {
            key: Buffer.from(`dev-${i % 10}`),
            value: randomBytes(1100), // incompressible, though compression is off by default
            headers: {
              'mqtt-topic': Buffer.from(`factory/p1/l1/dev-${i % 10}/telemetry`),
              'weir-gateway-id': Buffer.from('gw-1'),
              'avro-schema-fingerprint': Buffer.from('f'.repeat(64)),
            },
            timestamp: Date.now(),
          },
          null,
          null,
        );
      }
      batcher.flushAll();
      let sent = 0;
      let full = 0;
      for (let ready = batcher.takeReady(); ready.length > 0; ready = batcher.takeReady()) {
        for (const b of ready) {
          if (b.bytes > 1_000_000) full++;
          const [outcome] = await sink.send([b]);
          assert.equal(outcome?.status, 'ok', JSON.stringify(outcome));
          sent += b.records.length;
          batcher.complete(b);
        }
      }
      assert.equal(sent, total);
      assert.ok(full >= 2, `at least two batches close by bytes near 1 MiB (got ${full})`);
      const got = await consumeAll({ topics: [topic], expected: total, timeoutMs: 30_000 });
      assert.equal(got.length, total);
    });
  }
});
