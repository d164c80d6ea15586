import assert from 'node:assert/strict';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { OutboundRecord } from '../../gateway/contracts.ts';
import {
  decodeFrame,
  emptyDictionary,
  encodeFrame,
  FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  SegmentEncoder,
} from '../../gateway/spool/disk/format.ts';
import {
  type DamageReport,
  DiskSpool,
  type DiskSpoolOptions,
  frameBytes,
} from '../../gateway/spool/disk/spool.ts';

const record = (i: number, size = 20): OutboundRecord => ({
  key: Buffer.from(`dev-${i % 7}`),
  value: Buffer.alloc(size, i % 251),
  headers: { 'mqtt-topic': Buffer.from(`t/${i}`), 'weir-gateway-id': Buffer.from('gw') },
  timestamp: 1_763_800_000_000 + i,
});

/**
 * A record as the test wrote it: headers read back from the spool are an object without a
 * prototype (a header may be named `__proto__`), which deepEqual tells from a plain one.
 */
const plain = (r: OutboundRecord): OutboundRecord => ({ ...r, headers: { ...r.headers } });

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'weir-spool-'));
}

interface Harness {
  spool: DiskSpool;
  damage: DamageReport[];
  dropped: number[];
}

async function openSpool(dir: string, opts: Partial<DiskSpoolOptions> = {}): Promise<Harness> {
  const damage: DamageReport[] = [];
  const dropped: number[] = [];
  const spool = await DiskSpool.open({
    dir,
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 4096,
    whenFull: 'block',
    fsyncIntervalMs: 0,
    checkpointIntervalMs: 60_000,
    events: {
      damaged: (r) => damage.push(r),
      dropped: (n) => dropped.push(n),
      ioError: (err) => assert.fail(err),
    },
    ...opts,
  });
  return { spool, damage, dropped };
}

/** Appends records and resolves when all are durable. */
async function appendAll(spool: DiskSpool, from: number, count: number, size = 20): Promise<void> {
  await Promise.all(
    Array.from(
      { length: count },
      (_, k) =>
        new Promise<void>((resolve, reject) =>
          spool.append('topic-a', record(from + k, size), null, (err) => (err ? reject(err) : resolve())),
        ),
    ),
  );
}

/** Reads everything currently readable; returns the records' seqs and value first bytes. */
async function readAll(spool: DiskSpool, markDone = true) {
  const got: Array<{ seq: number; ts: number }> = [];
  for (;;) {
    const batch = await spool.read(64 * 1024);
    if (batch.length === 0) return got;
    for (const r of batch) {
      got.push({ seq: r.seq, ts: r.record.timestamp });
      if (markDone) spool.done(r.entry);
    }
  }
}

describe('spool framing', () => {
  test('a frame round-trips every field', () => {
    const r = record(42, 100);
    const frame = encodeFrame(123_456_789_012, 'iot.vehicle.positions', r);
    assert.ok(frame.length <= frameBytes('iot.vehicle.positions', r), 'frameBytes is an upper bound');
    const d = decodeFrame(frame, 0, 123_456_789_012);
    assert.equal(d.kind, 'record');
    if (d.kind !== 'record') return;
    assert.equal(d.bytes, frame.length);
    assert.equal(d.value.topic, 'iot.vehicle.positions');
    assert.deepEqual(plain(d.value.record), r);
  });

  test('a group is encoded into one buffer; shared topics and headers are written once per segment', () => {
    const shared = { 'mqtt-topic': Buffer.from('t/shared'), 'weir-gateway-id': Buffer.from('gw') };
    const group = Array.from({ length: 5 }, (_, i) => ({
      topic: i % 2 === 0 ? 'iot.a' : 'iot.ä',
      record: { ...record(i, 10 + i), headers: i < 3 ? shared : record(i).headers },
    }));
    const total = group.reduce((n, g) => n + frameBytes(g.topic, g.record), 0);
    const written = emptyDictionary();
    const { frames: one, sizes } = new SegmentEncoder(written).encode(40, group, total);
    assert.ok(one.length < total);
    assert.deepEqual(written.topics, ['iot.a', 'iot.ä']);
    // Record 2 repeats record 0's topic and headers: its frame refers to them.
    assert.ok(sizes[2]! < encodeFrame(42, group[2]!.topic, group[2]!.record).length - 20);
    const dict = emptyDictionary(); // a reader's, rebuilt from the segment's start
    let at = 0;
    group.forEach((g, i) => {
      const d = decodeFrame(one, at, 40 + i, FORMAT_VERSION, dict);
      assert.equal(d.kind, 'record');
      if (d.kind !== 'record') return;
      assert.equal(d.bytes, sizes[i]);
      assert.equal(d.value.topic, g.topic);
      assert.deepEqual(plain(d.value.record), g.record);
      at += d.bytes;
    });
    assert.equal(at, one.length);
    // Without the frames before it, a frame that refers to them does not decode.
    const alone = decodeFrame(one, sizes[0]! + sizes[1]!, 42, FORMAT_VERSION, emptyDictionary());
    assert.equal(alone.kind, 'corrupt');
  });

  test('a null key and no headers', () => {
    const r: OutboundRecord = { key: null, value: Buffer.from('v'), headers: {}, timestamp: 5 };
    const d = decodeFrame(encodeFrame(1, 't', r), 0);
    assert.ok(d.kind === 'record');
    assert.deepEqual(plain(d.value.record), r);
  });

  test('any flipped byte is detected', () => {
    const frame = encodeFrame(7, 'topic', record(7));
    for (let i = 0; i < frame.length; i++) {
      const copy = Buffer.from(frame);
      copy[i] = copy[i]! ^ 0x40;
      const d = decodeFrame(copy, 0, 7);
      assert.notEqual(d.kind, 'record', `flip at byte ${i} went unnoticed`);
    }
  });

  test('a truncated frame is incomplete, a wrong sequence corrupt', () => {
    const frame = encodeFrame(7, 'topic', record(7));
    assert.equal(decodeFrame(frame.subarray(0, frame.length - 1), 0).kind, 'incomplete');
    assert.equal(decodeFrame(frame.subarray(0, 3), 0).kind, 'incomplete');
    assert.equal(decodeFrame(frame, 0, 8).kind, 'corrupt');
  });
});

describe('disk spool', () => {
  test('records come back in order across segment roll-overs', async () => {
    const dir = tempDir();
    const { spool } = await openSpool(dir);
    await appendAll(spool, 1, 500);
    const got = await readAll(spool);
    assert.deepEqual(
      got.map((g) => g.seq),
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      got.map((g) => g.ts),
      Array.from({ length: 500 }, (_, i) => record(i + 1).timestamp),
    );
    assert.ok(readdirSync(dir).filter((f) => f.endsWith('.seg')).length > 5, 'rolled into several segments');
    await spool.close();
  });

  test('a reader that keeps pace takes records from memory, one that falls behind from the file: same records, same order', async () => {
    const dir = tempDir();
    const { spool } = await openSpool(dir, { segmentBytes: 256 * 1024 });
    const appended = new Map<number, OutboundRecord>();
    let next = 1;
    const appendBurst = async (count: number, size: number) => {
      const burst = Array.from({ length: count }, (_, k) => record(next + k, size));
      for (const [k, r] of burst.entries()) appended.set(next + k, r);
      const first = next;
      next += count;
      await Promise.all(
        burst.map(
          (r, k) =>
            new Promise<void>((resolve, reject) =>
              spool.append(`topic-${(first + k) % 3}`, r, null, (err) => (err ? reject(err) : resolve())),
            ),
        ),
      );
    };
    const check = (got: Awaited<ReturnType<DiskSpool['read']>>, from: number) => {
      got.forEach((r, i) => {
        assert.equal(r.seq, from + i);
        assert.equal(r.topic, `topic-${r.seq % 3}`);
        assert.deepEqual(plain(r.record), appended.get(r.seq));
        spool.done(r.entry);
      });
    };
    const drain = async () => {
      const out: Awaited<ReturnType<DiskSpool['read']>> = [];
      for (let b = await spool.read(1 << 20); b.length > 0; b = await spool.read(1 << 20)) out.push(...b);
      return out;
    };

    // Caught up: every burst is read right after it is written, across segment roll-overs.
    let read = 1;
    let fromMemory = 0;
    for (let round = 0; round < 40; round++) {
      await appendBurst(50, 200);
      const got = await drain();
      check(got, read);
      read += got.length;
      fromMemory += got.filter((r) => r.record === appended.get(r.seq)).length;
    }
    assert.equal(read, next, 'every record read once');
    assert.equal(fromMemory, read - 1, 'a reader that keeps pace reads nothing back from the file');
    assert.ok(readdirSync(dir).filter((f) => f.endsWith('.seg')).length > 1, 'rolled over');

    // Fallen behind: far more than the memory tail holds is written before the reader comes.
    await appendBurst(12_000, 500);
    const behind = await drain();
    check(behind, read);
    read += behind.length;
    assert.equal(read, next);
    assert.ok(
      behind.filter((r) => r.record !== appended.get(r.seq)).length > behind.length / 2,
      'most of a backlog comes from the file',
    );
    // …and once it has caught up, the reader is served from memory again.
    await appendBurst(10, 100);
    const after = await drain();
    check(after, read);
    assert.ok(after.every((r) => r.record === appended.get(r.seq)));
    await spool.close();
  });

  test('replay after restart starts right after the checkpoint; done segments are deleted', async () => {
    const dir = tempDir();
    let { spool } = await openSpool(dir);
    await appendAll(spool, 1, 300);
    // Deliver the first 120 only.
    let delivered = 0;
    while (delivered < 120) {
      const batch = await spool.read(1);
      for (const r of batch) if (delivered++ < 120) spool.done(r.entry);
    }
    const segmentsBefore = readdirSync(dir).filter((f) => f.endsWith('.seg')).length;
    await spool.close();
    const { version, ackedSeq } = JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
    assert.deepEqual({ version, ackedSeq }, { version: 1, ackedSeq: 120 });
    assert.ok(
      readdirSync(dir).filter((f) => f.endsWith('.seg')).length < segmentsBefore,
      'done segments deleted',
    );

    ({ spool } = await openSpool(dir));
    const got = await readAll(spool);
    assert.deepEqual(
      got.map((g) => g.seq),
      Array.from({ length: 180 }, (_, i) => i + 121),
    );
    // Numbering continues after a restart.
    await appendAll(spool, 301, 5);
    assert.deepEqual(
      (await readAll(spool)).map((g) => g.seq),
      [301, 302, 303, 304, 305],
    );
    assert.equal(spool.stats().records, 0);
    await spool.close();
  });

  test('while running, the checkpoint follows deliveries and wholly delivered segments are deleted', async () => {
    const dir = tempDir();
    const { spool } = await openSpool(dir, { checkpointIntervalMs: 20 });
    const checkpoint = () => JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')).ackedSeq;
    const segments = () => readdirSync(dir).filter((f) => f.endsWith('.seg')).length;
    for (const upTo of [100, 250, 400]) {
      await appendAll(spool, upTo - 99, 100);
      await readAll(spool);
      await new Promise((r) => setTimeout(r, 100)); // several checkpoint intervals, some idle
      assert.equal(checkpoint(), spool.stats().lastSeq);
    }
    assert.ok(segments() <= 2, `delivered segments deleted (${segments()} left)`);
    assert.equal(spool.stats().records, 0);
    await spool.close();
  });

  test('a torn last record is cut off at open; everything before it is kept', async () => {
    const dir = tempDir();
    let { spool } = await openSpool(dir, { segmentBytes: 1 << 20 });
    await appendAll(spool, 1, 50);
    await spool.close();
    const [seg] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    const file = path.join(dir, seg!);
    truncateSync(file, statSync(file).size - 7); // a crash in the middle of writing record 50
    const h = await openSpool(dir, { segmentBytes: 1 << 20 });
    spool = h.spool;
    assert.equal(h.damage.length, 1);
    assert.match(h.damage[0]!.reason, /torn/);
    assert.equal(h.damage[0]!.file, file);
    const got = await readAll(spool);
    assert.deepEqual(
      got.map((g) => g.seq),
      Array.from({ length: 49 }, (_, i) => i + 1),
    );
    // Appending continues cleanly after the cut.
    await appendAll(spool, 51, 3);
    assert.deepEqual(
      (await readAll(spool)).map((g) => g.seq),
      [50, 51, 52],
    );
    await spool.close();
  });

  test('a flipped byte in an older segment: intact records before it are delivered, the loss is counted exactly', async () => {
    const dir = tempDir();
    let { spool } = await openSpool(dir);
    await appendAll(spool, 1, 400);
    await spool.close();
    const segs = readdirSync(dir)
      .filter((f) => f.endsWith('.seg'))
      .sort();
    const victim = path.join(dir, segs[2]!);
    const nextFirstSeq = Number(segs[3]!.slice(0, 20));
    const victimFirstSeq = Number(segs[2]!.slice(0, 20));
    // Flip a byte inside the 4th record of the victim segment (frames differ in size: the first
    // of a segment defines what later ones refer to).
    const data = readFileSync(victim);
    const dict = emptyDictionary();
    let fourth = SEGMENT_HEADER_BYTES;
    for (let i = 0; i < 3; i++) {
      const frame = decodeFrame(data, fourth, victimFirstSeq + i, FORMAT_VERSION, dict);
      assert.ok(frame.kind === 'record');
      fourth += frame.bytes;
    }
    const fd = openSync(victim, 'r+');
    writeSync(fd, Buffer.from([0xee]), 0, 1, fourth + 30);
    closeSync(fd);

    const h = await openSpool(dir);
    spool = h.spool;
    const got = (await readAll(spool)).map((g) => g.seq);
    const lost = new Set(
      Array.from({ length: nextFirstSeq - victimFirstSeq - 3 }, (_, i) => victimFirstSeq + 3 + i),
    );
    assert.deepEqual(
      got,
      Array.from({ length: 400 }, (_, i) => i + 1).filter((s) => !lost.has(s)),
    );
    assert.equal(h.damage.length, 1);
    assert.equal(h.damage[0]!.file, victim);
    assert.equal(h.damage[0]!.records, lost.size);
    assert.equal(h.damage[0]!.reason, 'CRC mismatch');
    assert.equal(statSync(victim).size, fourth, 'truncated at the damage');
    await spool.close();
  });

  test('block: appends past maxBytes wait, and proceed in order once records are delivered', async () => {
    const dir = tempDir();
    const one = frameBytes('topic-a', record(1));
    const { spool } = await openSpool(dir, { maxBytes: 8 * 1024, segmentBytes: 1024 });
    const accepted: number[] = [];
    const total = Math.ceil((16 * 1024) / one);
    for (let i = 1; i <= total; i++) spool.append('topic-a', record(i), () => accepted.push(i), null);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(accepted.length < total, 'some appends wait');
    assert.deepEqual(
      accepted,
      Array.from({ length: accepted.length }, (_, i) => i + 1),
      'admitted in order',
    );
    assert.ok(spool.stats().bytes <= 8 * 1024, `${spool.stats().bytes} bytes on disk`);
    // Deliver: space frees up and the rest gets in.
    for (let rounds = 0; accepted.length < total && rounds < 200; rounds++) {
      await readAll(spool);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(accepted.length, total);
    await spool.close();
  });

  test('dropNewest refuses and counts; dropOldest deletes the oldest segment and counts exactly what it held', async () => {
    for (const whenFull of ['dropNewest', 'dropOldest'] as const) {
      const dir = tempDir();
      const h = await openSpool(dir, { maxBytes: 8 * 1024, segmentBytes: 1024, whenFull });
      const total = 400;
      await appendAll(h.spool, 1, total);
      await new Promise((r) => setTimeout(r, 20));
      const got = (await readAll(h.spool)).map((g) => g.seq);
      const dropped = h.dropped.reduce((a, b) => a + b, 0);
      assert.ok(dropped > 0, `${whenFull} dropped something`);
      assert.equal(got.length + dropped, total, `${whenFull}: delivered + dropped = appended`);
      if (whenFull === 'dropOldest') assert.equal(got.at(-1), total, 'the newest records are kept');
      else assert.equal(got[0], 1, 'the oldest records are kept');
      await h.spool.close();
    }
  });

  test('interval fsync: durable callbacks wait for the periodic fsync', async () => {
    const dir = tempDir();
    const { spool } = await openSpool(dir, { fsyncIntervalMs: 100 });
    const started = Date.now();
    await appendAll(spool, 1, 10);
    assert.ok(Date.now() - started >= 80, 'waited for the interval');
    await spool.close();
  });
});
