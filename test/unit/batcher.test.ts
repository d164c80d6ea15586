import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher, type BatcherOptions, kafkaBatchBytes, recordBytes } from '../../gateway/batcher/batcher.ts';
import type { OutboundRecord } from '../../gateway/contracts.ts';

const rec = (size: number, key = 'k'): OutboundRecord => ({
  key: Buffer.from(key),
  value: Buffer.alloc(size - key.length),
  headers: {},
  timestamp: 0,
});

function make(opts: Partial<BatcherOptions> = {}) {
  const batcher = new Batcher({
    maxRecords: 1000,
    maxBytes: 1 << 20,
    lingerMs: 1000,
    maxBufferedBytes: 1 << 30,
    ...opts,
  });
  let readyEvents = 0;
  batcher.onReady = () => readyEvents++;
  return { batcher, readyEvents: () => readyEvents };
}

describe('batcher flush triggers', () => {
  test('maxRecords closes the batch at exactly that many records', () => {
    const { batcher, readyEvents } = make({ maxRecords: 3 });
    for (let i = 0; i < 7; i++) batcher.add('t', rec(10), null, null);
    assert.equal(readyEvents(), 2);
    assert.equal(batcher.readyCount, 2);
    assert.deepEqual(
      [...batcher.takeReady(), ...batcher.takeReady()].map((b) => b.records.length),
      [3, 3],
    );
    batcher.flushAll();
    assert.deepEqual(
      batcher.takeReady().map((b) => b.records.length),
      [1],
    );
  });

  // maxBytes counts what Kafka's record format adds (KAFKA_*_OVERHEAD_BYTES): the batch limit is
  // the size the broker checks against message.max.bytes.
  const wire = (records: number, bytes: number) => kafkaBatchBytes(records, bytes);

  test('maxBytes: a record that would pass the limit (in Kafka bytes) starts a new batch', () => {
    const { batcher } = make({ maxBytes: wire(2, 80) + 10 });
    batcher.add('t', rec(40), null, null);
    batcher.add('t', rec(40), null, null);
    assert.equal(batcher.readyCount, 0);
    batcher.add('t', rec(40), null, null); // three would pass the limit: the first two go
    const ready = batcher.takeReady();
    assert.equal(ready.length, 1);
    assert.equal(ready[0]!.records.length, 2);
    assert.equal(ready[0]!.bytes, 80);
  });

  test('maxBytes: reaching the limit exactly closes the batch', () => {
    const { batcher } = make({ maxBytes: wire(2, 100) });
    batcher.add('t', rec(60), null, null);
    assert.equal(batcher.readyCount, 0);
    batcher.add('t', rec(40), null, null);
    assert.equal(batcher.takeReady()[0]?.bytes, 100);
  });

  test('maxBytes holds the per-record overhead: many small records close the batch before their raw bytes reach it', () => {
    const { batcher } = make({ maxRecords: 1_000_000, maxBytes: 64 * 1024 });
    for (let i = 0; i < 10_000; i++) batcher.add('t', rec(10), null, null);
    batcher.flushAll();
    const batches = batcher.takeReady();
    for (let b = batcher.takeReady(); b.length > 0; b = batcher.takeReady()) batches.push(...b);
    assert.ok(batches.length > 1);
    for (const b of batches) assert.ok(kafkaBatchBytes(b.records.length, b.bytes) <= 64 * 1024);
    assert.equal(
      batches.reduce((n, b) => n + b.records.length, 0),
      10_000,
    );
  });

  test('lingerMs closes a batch that is not full', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { batcher } = make({ lingerMs: 50 });
    batcher.add('t', rec(10), null, null);
    t.mock.timers.tick(49);
    assert.equal(batcher.readyCount, 0);
    batcher.add('t', rec(10), null, null); // linger counts from the first record
    t.mock.timers.tick(1);
    assert.equal(batcher.readyCount, 1);
    assert.equal(batcher.takeReady()[0]!.records.length, 2);
  });

  test('topics batch separately and keep their order', () => {
    const { batcher } = make();
    for (let i = 0; i < 4; i++) batcher.add(i % 2 === 0 ? 'a' : 'b', rec(10, `k${i}`), null, null);
    batcher.flushAll();
    const ready = batcher.takeReady();
    assert.deepEqual(
      ready.map((b) => [b.topic, b.records.map((r) => r.key?.toString())]),
      [
        ['a', ['k0', 'k2']],
        ['b', ['k1', 'k3']],
      ],
    );
  });
});

describe('batcher memory bound', () => {
  test('past maxBufferedBytes, adds wait and are admitted in order as batches complete', () => {
    const { batcher } = make({ maxRecords: 2, maxBufferedBytes: 40 });
    const admitted: number[] = [];
    for (let i = 0; i < 6; i++) batcher.add('t', rec(10, `k${i}`), () => admitted.push(i), null);
    assert.deepEqual(admitted, [0, 1, 2, 3]);
    assert.equal(batcher.bufferedBytes, 40);
    assert.equal(batcher.waitingCount, 2);
    const [first] = batcher.takeReady();
    batcher.complete(first!);
    assert.deepEqual(admitted, [0, 1, 2, 3, 4, 5]);
    assert.equal(batcher.bufferedBytes, 40);
  });

  test('a small record never overtakes a waiting one', () => {
    const { batcher } = make({ maxRecords: 1, maxBufferedBytes: 100 });
    const admitted: string[] = [];
    batcher.add('t', rec(90, 'a'), () => admitted.push('a'), null);
    batcher.add('t', rec(50, 'b'), () => admitted.push('b'), null);
    batcher.add('t', rec(5, 'c'), () => admitted.push('c'), null); // would fit, but b waits
    assert.deepEqual(admitted, ['a']);
    batcher.complete(batcher.takeReady()[0]!);
    assert.deepEqual(admitted, ['a', 'b', 'c']);
  });

  test('a record larger than the whole bound is admitted alone', () => {
    const { batcher } = make({ maxRecords: 1, maxBufferedBytes: 10 });
    let admitted = false;
    batcher.add(
      't',
      rec(500),
      () => {
        admitted = true;
      },
      null,
    );
    assert.ok(admitted);
  });

  test('complete settles every record of the batch, with the error if any', () => {
    const { batcher } = make({ maxRecords: 3 });
    const results: Array<Error | null | undefined> = [];
    for (let i = 0; i < 3; i++) batcher.add('t', rec(10), null, (err) => results.push(err));
    const [batch] = batcher.takeReady();
    const boom = new Error('x');
    batcher.complete(batch!, boom);
    assert.deepEqual(results, [boom, boom, boom]);
    assert.equal(batcher.bufferedBytes, 0);
  });

  test('takeReady gives the oldest batch of each topic; the rest wait their turn in order', () => {
    const { batcher } = make({ maxRecords: 1 });
    for (const [topic, k] of [
      ['t', 'a'],
      ['t', 'b'],
      ['u', 'x'],
      ['t', 'c'],
      ['u', 'y'],
    ] as const) {
      batcher.add(topic, rec(10, k), null, null);
    }
    const keys = (batches: ReturnType<typeof batcher.takeReady>) =>
      batches.map((b) => `${b.topic}:${b.records[0]!.key}`);
    assert.deepEqual(keys(batcher.takeReady()), ['t:a', 'u:x']);
    assert.deepEqual(keys(batcher.takeReady()), ['t:b', 'u:y']);
    assert.deepEqual(keys(batcher.takeReady()), ['t:c']);
    assert.deepEqual(keys(batcher.takeReady()), []);
  });

  test('requeue puts batches back first, in order', () => {
    const { batcher } = make({ maxRecords: 1 });
    for (const k of ['a', 'b']) batcher.add('t', rec(10, k), null, null);
    batcher.add('u', rec(10, 'x'), null, null);
    const taken = batcher.takeReady(); // t:a, u:x
    batcher.add('t', rec(10, 'd'), null, null);
    batcher.requeue(taken);
    const order: string[] = [];
    for (let batches = batcher.takeReady(); batches.length > 0; batches = batcher.takeReady()) {
      for (const b of batches) order.push(`${b.topic}:${b.records[0]!.key}`);
    }
    assert.deepEqual(order, ['t:a', 'u:x', 't:b', 't:d']);
  });

  test('drained resolves once every record is completed; abandon counts QoS 0 losses', async () => {
    const { batcher } = make({ maxRecords: 2 });
    const delivered: Array<Error | null | undefined> = [];
    batcher.add('t', rec(10), () => {}, null); // QoS 0 style: settled on admission
    batcher.add('t', rec(10), null, (e) => delivered.push(e));
    batcher.add('t', rec(10), null, (e) => delivered.push(e));
    let drained = false;
    void batcher.drained().then(() => {
      drained = true;
    });
    batcher.complete(batcher.takeReady()[0]!);
    await Promise.resolve();
    assert.equal(drained, false);
    const lost = batcher.abandon(new Error('stop'));
    assert.deepEqual(lost, { records: 1, alreadySettled: 0 });
    await Promise.resolve();
    assert.equal(drained, true);
    assert.equal(delivered.length, 2);
  });

  test('recordBytes counts key, value and headers', () => {
    assert.equal(
      recordBytes({
        key: Buffer.from('abc'),
        value: Buffer.alloc(10),
        headers: { h: Buffer.from('xy') },
        timestamp: 0,
      }),
      16,
    );
  });
});
