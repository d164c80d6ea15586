// The forwarder against a scripted sink (test/support/scripted-sink.ts), which answers each send
// ok, retry, rejected or not at all, as the test says, and each probe likewise. A real batcher
// feeds it, wired as main.ts wires it. Timings are options, shortened to milliseconds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher } from '../../gateway/batcher/batcher.ts';
import type { OutboundRecord } from '../../gateway/contracts.ts';
import type { ForwarderOptions } from '../../gateway/forwarder/forwarder.ts';
import { DEAD_LETTER_TOPIC, ScriptedSink, startForwarder, waitUntil } from '../support/scripted-sink.ts';

const record = (value: string): OutboundRecord => ({
  key: Buffer.from('device-1'),
  value: Buffer.from(value),
  headers: {},
  timestamp: 0,
  origin: { clientId: 'device-1', qos: 1, route: 'r' },
});

/** A batcher and a forwarder wired as in main.ts, around `sink`, and a way to add records. */
function pipeline(
  t: { after(fn: () => void): void },
  sink: ScriptedSink,
  opts: { forwarder?: Partial<ForwarderOptions> } = {},
) {
  const batcher = new Batcher({ maxRecords: 3, maxBytes: 1 << 20, lingerMs: 1, maxBufferedBytes: 1 << 20 });
  const { forwarder, metrics } = startForwarder(t, batcher, sink, opts.forwarder);
  /** Each record added, and whether (and with what) its onDurable was called. */
  const durable: Array<{ value: string; err: Error | null | undefined; called: boolean }> = [];
  const add = (topic: string, ...values: string[]) => {
    for (const value of values) {
      const entry = { value, err: undefined as Error | null | undefined, called: false };
      durable.push(entry);
      batcher.add(topic, record(value), null, (err) => {
        assert.equal(entry.called, false, `onDurable of ${value} called twice`);
        entry.called = true;
        entry.err = err ?? null;
      });
    }
  };
  return { batcher, forwarder, metrics, add, durable };
}

const values = (n: number, prefix = '') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('forwarder', () => {
  test('a batch answered retry is sent again before anything newer of its topic, and nothing is lost', async (t) => {
    const sink = new ScriptedSink(['retry', 'retry']);
    const { add, durable } = pipeline(t, sink);
    add('t', ...values(3));
    await waitUntil('the first send', () => sink.sends.length >= 1);
    add('t', ...values(6).slice(3)); // arrives while the first batch is being retried
    await waitUntil('every record acknowledged', () => durable.every((d) => d.called));

    assert.deepEqual(
      sink.delivered.map((d) => d.value),
      values(6),
      'Kafka has every record once, in order',
    );
    assert.deepEqual(sink.sends[0], [{ topic: 't', values: ['1', '2', '3'] }]);
    assert.deepEqual(sink.sends[1], [{ topic: 't', values: ['1', '2', '3'] }], 'the same batch again');
    assert.deepEqual(sink.sends[2]?.[0], { topic: 't', values: ['1', '2', '3'] });
    assert.ok(
      durable.every((d) => d.err === null),
      'every device is acknowledged without error',
    );
  });

  test('records of a batch Kafka rejects go to the dead-letter topic; their devices are acknowledged once it has them', async (t) => {
    // Send 1: topic t rejected. Send 2 (the dead letters): hangs until released.
    const sink = new ScriptedSink([(b) => (b.topic === 't' ? 'rejected' : 'ok'), 'hang']);
    const { add, durable, metrics } = pipeline(t, sink);
    add('t', ...values(3));
    await waitUntil('the dead letters to be sent', () => sink.sends.length === 2);
    assert.deepEqual(sink.sends[1], [
      {
        topic: DEAD_LETTER_TOPIC,
        values: values(3).map((v) => `dead letter of t/${v}: record too large`),
      },
    ]);
    assert.ok(
      durable.every((d) => !d.called),
      'no device is acknowledged before its dead letter is in Kafka',
    );
    sink.release('ok');
    await waitUntil('every record acknowledged', () => durable.every((d) => d.called));
    assert.ok(durable.every((d) => d.err === null));
    assert.equal(metrics.deadLetters.counts.kafka_rejected, 3);
    assert.deepEqual(
      sink.delivered.map((d) => d.topic),
      [DEAD_LETTER_TOPIC, DEAD_LETTER_TOPIC, DEAD_LETTER_TOPIC],
      'nothing of the rejected batch itself reached Kafka',
    );
  });

  test('dead letters the dead-letter topic rejects are dropped and counted, not retried forever', async (t) => {
    const sink = new ScriptedSink(['rejected', 'rejected']);
    const { add, durable, metrics } = pipeline(t, sink);
    add('t', ...values(2));
    await waitUntil('every record settled', () => durable.every((d) => d.called));
    assert.equal(sink.sends.length, 2);
    assert.equal(metrics.dropped.counts.deadletter_rejected, 2);
    assert.deepEqual(sink.delivered, []);
  });

  test('a record whose MQTT 5 expiry passes while its batch waits is not sent: counted as expired, and done', async (t) => {
    const sink = new ScriptedSink(['hang']);
    const batcher = new Batcher({ maxRecords: 3, maxBytes: 1 << 20, lingerMs: 1, maxBufferedBytes: 1 << 20 });
    const { metrics } = startForwarder(t, batcher, sink);
    const settled: Array<string> = [];
    const add = (topic: string, value: string, expiresInMs?: number) => {
      const r = record(value);
      const rec = expiresInMs === undefined ? r : { ...r, expiresAt: Date.now() + expiresInMs };
      batcher.add(topic, rec, null, (err) => settled.push(err ? `${value}: ${err.message}` : value));
    };
    add('t', '1');
    add('t', '2', 20);
    add('t', '3', 60_000);
    await waitUntil('the first send', () => sink.sends.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 40)); // Kafka does not answer; 2 expires
    add('u', 'u1', 0); // a batch of expired records only
    add('u', 'u2', -1_000);
    sink.release('retry');
    await waitUntil('every record settled', () => settled.length === 5);
    assert.deepEqual(
      sink.delivered.map((d) => d.value),
      ['1', '3'],
      'Kafka has the unexpired records',
    );
    assert.deepEqual(sink.sends[1], [{ topic: 't', values: ['1', '3'] }]);
    assert.ok(!sink.sends.flat().some((s) => s.topic === 'u'), 'a batch of expired records is not sent');
    assert.deepEqual(settled.sort(), ['1', '2', '3', 'u1', 'u2'], 'each is done, without an error');
    assert.equal(metrics.dropped.counts.expired, 3);
    assert.equal(batcher.bufferedBytes, 0, 'their bytes left the memory bound');
  });

  test('one send in flight: nothing more is sent while a send hangs', async (t) => {
    const sink = new ScriptedSink(['hang']);
    const { add, durable } = pipeline(t, sink);
    add('t', ...values(3));
    await waitUntil('the first send', () => sink.sends.length === 1);
    add('t', ...values(6).slice(3));
    add('u', ...values(3, 'u'));
    await new Promise((resolve) => setTimeout(resolve, 20)); // batches are ready; the send still hangs
    assert.equal(sink.sends.length, 1, 'no second send while the first is in flight');
    sink.release('ok');
    await waitUntil('every record acknowledged', () => durable.every((d) => d.called));
    assert.equal(sink.maxInFlight, 1);
    assert.deepEqual(
      sink.delivered.filter((d) => d.topic === 't').map((d) => d.value),
      values(6),
    );
    assert.deepEqual(
      sink.delivered.filter((d) => d.topic === 'u').map((d) => d.value),
      values(3, 'u'),
    );
  });

  test('the probe says when Kafka is down (refused or hung) and when it is back', async (t) => {
    const sink = new ScriptedSink();
    const { forwarder, metrics } = pipeline(t, sink);
    const up = async () => (await metrics.kafkaUp.get()).values[0]?.value;
    forwarder.connectInBackground();
    await waitUntil('Kafka up', () => forwarder.kafkaConnected);
    assert.equal(await up(), 1);

    sink.probeAnswer = 'fail';
    await waitUntil('Kafka down after a refused probe', () => !forwarder.kafkaConnected);
    assert.equal(await up(), 0);
    assert.ok(forwarder.kafkaProblem?.includes('connection refused'), String(forwarder.kafkaProblem));

    sink.probeAnswer = 'ok';
    await waitUntil('Kafka up again', () => forwarder.kafkaConnected);
    assert.equal(forwarder.kafkaProblem, null);

    // A hung broker answers nothing: down once the probe's deadline (20 ms here) has passed.
    sink.probeAnswer = 'hang';
    await waitUntil('Kafka down after a probe with no answer', () => !forwarder.kafkaConnected);
    assert.equal(forwarder.kafkaErrorCode, 'WEIR_KAFKA_TIMEOUT');
    const probes = sink.probes;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(sink.probes, probes, 'no new probe while one still hangs');

    sink.probeAnswer = 'ok';
    sink.releaseProbes();
    await waitUntil('Kafka up once it answers', () => forwarder.kafkaConnected);
  });

  test('a send answered retry marks Kafka down until a send succeeds', async (t) => {
    const sink = new ScriptedSink(['hang']);
    const { add, durable, forwarder } = pipeline(t, sink, { forwarder: { probeIntervalMs: 60_000 } });
    forwarder.connectInBackground();
    await waitUntil('Kafka up', () => forwarder.kafkaConnected);
    add('t', ...values(3));
    await waitUntil('the first send', () => sink.sends.length === 1);
    sink.script.push('hang');
    sink.release('retry');
    await waitUntil('Kafka down', () => !forwarder.kafkaConnected);
    await waitUntil('the send again', () => sink.sends.length === 2);
    sink.release('ok');
    await waitUntil('every record acknowledged', () => durable.every((d) => d.called));
    assert.equal(forwarder.kafkaConnected, true);
  });
});
