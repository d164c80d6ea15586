// The spool pump between a spool and the batcher, with a forwarder and a scripted sink
// (test/support/scripted-sink.ts) playing Kafka: records leave the spool in spool order, are
// marked done only once Kafka has them, and the batcher stays within the pump's bound. The spool
// is a small list in memory (the SpoolReader contract), and once the disk spool itself.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Batcher, recordBytes } from '../../gateway/batcher/batcher.ts';
import type { OutboundRecord, SpooledRecord, SpoolReader } from '../../gateway/contracts.ts';
import { DiskSpool } from '../../gateway/spool/disk/spool.ts';
import { SpoolPump } from '../../gateway/spool/pump.ts';
import { ScriptedSink, startForwarder, waitUntil } from '../support/scripted-sink.ts';

const record = (value: string, size = 0): OutboundRecord => ({
  key: Buffer.from('device-1'),
  value: Buffer.from(value.padEnd(size, '.')),
  headers: {},
  timestamp: 0,
});

/**
 * A spool in memory: records in the order appended; `read` hands out about `maxBytes` of them
 * (at least one), as the disk spool does; `done` is remembered. Entries are the records' indexes.
 */
class ListSpool implements SpoolReader<number> {
  readonly records: Array<{ topic: string; record: OutboundRecord }> = [];
  /** Index of the next record to hand out. */
  next = 0;
  readonly acked: number[] = [];
  #wake: Array<() => void> = [];

  append(topic: string, ...values: string[]): void {
    for (const v of values) this.records.push({ topic, record: record(v) });
    for (const wake of this.#wake.splice(0)) wake();
  }

  async read(maxBytes: number): Promise<Array<SpooledRecord<number>>> {
    const out: Array<SpooledRecord<number>> = [];
    let bytes = 0;
    while (this.next < this.records.length && (out.length === 0 || bytes < maxBytes)) {
      const r = this.records[this.next]!;
      out.push({ ...r, entry: this.next++ });
      bytes += recordBytes(r.record);
    }
    return out;
  }

  whenReadable(): Promise<void> {
    if (this.next < this.records.length) return Promise.resolve();
    return new Promise((resolve) => this.#wake.push(resolve));
  }

  done(entry: number): void {
    this.acked.push(entry);
  }
}

function newBatcher() {
  return new Batcher({ maxRecords: 4, maxBytes: 1 << 20, lingerMs: 1, maxBufferedBytes: 1 << 30 });
}

function startPump<E>(
  t: { after(fn: () => Promise<void>): void },
  spool: SpoolReader<E>,
  batcher: Batcher,
  maxBufferedBytes = 1 << 20,
) {
  const pump = new SpoolPump({ spool, batcher, maxBufferedBytes, maxBytesPerSec: 0 });
  pump.start();
  t.after(() => pump.stop());
  return pump;
}

const values = (n: number, prefix = '') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('spool pump', () => {
  test('replays in spool order and marks a record done only once Kafka has it', async (t) => {
    const spool = new ListSpool();
    spool.append('t', ...values(6, 't'));
    spool.append('u', ...values(3, 'u'));
    spool.append('t', ...values(9, 't').slice(6));
    const batcher = newBatcher();
    const sink = new ScriptedSink(['hang']);
    startForwarder(t, batcher, sink);
    startPump(t, spool, batcher);

    await waitUntil('the first send', () => sink.sends.length === 1);
    assert.deepEqual(spool.acked, [], 'nothing is done before Kafka answered');
    sink.release('retry');
    await waitUntil('every record done', () => spool.acked.length === spool.records.length);

    const of = (topic: string) => sink.delivered.filter((d) => d.topic === topic).map((d) => d.value);
    assert.deepEqual(of('t'), values(9, 't'), 'topic t in spool order');
    assert.deepEqual(of('u'), values(3, 'u'), 'topic u in spool order');
    assert.deepEqual(
      [...spool.acked].sort((a, b) => a - b),
      values(spool.records.length).map((v) => Number(v) - 1),
      'every record done once',
    );
  });

  test('a record given up (the gateway stops before Kafka has it) is not marked done', async (t) => {
    const spool = new ListSpool();
    spool.append('t', ...values(4));
    const batcher = newBatcher();
    const sink = new ScriptedSink(['hang']);
    const { forwarder } = startForwarder(t, batcher, sink);
    startPump(t, spool, batcher);
    await waitUntil('the first send', () => sink.sends.length === 1);
    forwarder.stop();
    sink.release('retry');
    spool.append('t', ...values(8).slice(4));
    await waitUntil('the pump to read on', () => spool.next === 8);
    const left = batcher.abandon(new Error('gateway stopped'));
    assert.equal(left.records, 8);
    assert.deepEqual(spool.acked, [], 'all eight stay in the spool for the next start');
  });

  test('keeps the batcher within its bound while Kafka does not answer, then drains', async (t) => {
    const spool = new ListSpool();
    const size = recordBytes(record('', 100));
    for (let i = 0; i < 100; i++) spool.records.push({ topic: 't', record: record(String(i + 1), 100) });
    const batcher = newBatcher();
    const sink = new ScriptedSink(['hang']);
    startForwarder(t, batcher, sink);
    const bound = 10 * size;
    startPump(t, spool, batcher, bound);

    await waitUntil('the first send', () => sink.sends.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the pump had time to read more
    assert.ok(batcher.bufferedBytes <= bound, `${batcher.bufferedBytes} bytes held, bound ${bound}`);
    assert.equal(spool.next, 10, 'no more read than fits');
    sink.release('ok');
    await waitUntil('every record done', () => spool.acked.length === 100);
    assert.deepEqual(
      sink.delivered.map((d) => Number.parseInt(d.value, 10)),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  test('records written after the pump caught up flow at once; stop() ends it while it waits', async (t) => {
    const spool = new ListSpool();
    const batcher = newBatcher();
    const sink = new ScriptedSink();
    startForwarder(t, batcher, sink);
    const pump = startPump(t, spool, batcher);
    spool.append('t', ...values(3));
    await waitUntil('three records done', () => spool.acked.length === 3);
    await pump.stop();
    spool.append('t', '4');
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(spool.next, 3, 'a stopped pump reads nothing more');
  });

  test('with the disk spool: records spooled before a restart are replayed in order and the spool drains', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-pump-'));
    const open = () =>
      DiskSpool.open({
        dir,
        maxBytes: 1 << 20,
        segmentBytes: 4096,
        whenFull: 'block',
        fsyncIntervalMs: 0,
        checkpointIntervalMs: 60_000,
        events: {
          damaged: (report) => assert.fail(`damage: ${JSON.stringify(report)}`),
          dropped: (n) => assert.fail(`${n} records dropped`),
          ioError: (err) => assert.fail(err),
        },
      });
    const before = await open();
    await Promise.all(
      values(50).map(
        (v) =>
          new Promise<void>((resolve, reject) =>
            before.append(Number(v) % 2 === 1 ? 'odd' : 'even', record(v), null, (err) =>
              err ? reject(err) : resolve(),
            ),
          ),
      ),
    );
    await before.close();

    const spool = await open();
    assert.equal(spool.stats().records, 50);
    const batcher = newBatcher();
    const sink = new ScriptedSink(['retry']);
    startForwarder(t, batcher, sink);
    const pump = new SpoolPump({ spool, batcher, maxBufferedBytes: 1 << 20, maxBytesPerSec: 0 });
    pump.start();
    // The pump stops before the spool closes (it reads the spool), as at shutdown.
    t.after(async () => {
      await pump.stop();
      await spool.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await waitUntil('the spool to drain', () => spool.drained);
    assert.equal(spool.stats().records, 0);
    const of = (topic: string) => sink.delivered.filter((d) => d.topic === topic).map((d) => d.value);
    assert.deepEqual(
      of('odd'),
      values(50).filter((v) => Number(v) % 2 === 1),
    );
    assert.deepEqual(
      of('even'),
      values(50).filter((v) => Number(v) % 2 === 0),
    );
  });
});
