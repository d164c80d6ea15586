// One gateway per spool directory (the OS lock), reading spools an older weir left (format 1),
// and the origin of each record (client id, QoS, route) kept on disk for its dead letter.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import type { OutboundRecord } from '../../gateway/contracts.ts';
import { WeirError } from '../../gateway/errors.ts';
import { readCheckpoint, writeCheckpoint } from '../../gateway/spool/disk/checkpoint.ts';
import {
  decodeFrame,
  encodeFrame,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  segmentName,
} from '../../gateway/spool/disk/format.ts';
import { inspectSpool } from '../../gateway/spool/disk/inspect.ts';
import { DiskSpool, type DiskSpoolOptions } from '../../gateway/spool/disk/spool.ts';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'weir-spool-lock-'));
const origin = { clientId: 'modem-7', qos: 2 as const, route: 'vehicle-gps' };
const rec = (i: number, withOrigin = true): OutboundRecord => ({
  key: Buffer.from('bus-9'),
  value: Buffer.alloc(40, i),
  headers: { 'mqtt-topic': Buffer.from('fleet/a/vehicles/bus-9/position') },
  timestamp: 1_763_800_000_000 + i,
  ...(withOrigin && { origin }),
});

function options(dir: string, over: Partial<DiskSpoolOptions> = {}): DiskSpoolOptions {
  return {
    dir,
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 4096,
    whenFull: 'block',
    fsyncIntervalMs: 0,
    checkpointIntervalMs: 60_000,
    events: { damaged: () => {}, dropped: () => {}, ioError: (err) => assert.fail(err) },
    ...over,
  };
}

/** A segment header naming format `version` (an older or newer weir's). */
function segmentHeaderOf(version: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt32LE(version, 8);
  return header;
}

const append = (spool: DiskSpool, r: OutboundRecord) =>
  new Promise<void>((resolve, reject) =>
    spool.append('t', r, null, (err) => (err ? reject(err) : resolve())),
  );

describe('spool directory lock', () => {
  test('a second open of the same directory fails, naming it and the holder; after close it opens', async () => {
    const dir = tempDir();
    const first = await DiskSpool.open(options(dir));
    await assert.rejects(DiskSpool.open(options(dir)), (err: unknown) => {
      assert.ok(err instanceof WeirError);
      assert.equal(err.code, 'WEIR_SPOOL_LOCKED');
      assert.ok(err.message.includes(dir), err.message);
      assert.ok(err.message.includes(`pid ${process.pid}`), err.message);
      return true;
    });
    const seen = await inspectSpool(dir);
    assert.equal(seen.inUseBy, process.pid, 'inspect says who holds it, without taking it');
    await first.close();
    assert.equal((await inspectSpool(dir)).inUseBy, false);
    const second = await DiskSpool.open(options(dir));
    await second.close();
  });

  test('a holder killed with SIGKILL leaves no stale lock', async () => {
    const dir = tempDir();
    const script = path.join(dir, 'hold.ts');
    const spoolModule = new URL('../../gateway/spool/disk/spool.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { DiskSpool } from ${JSON.stringify(spoolModule)};
       await DiskSpool.open({ dir: ${JSON.stringify(path.join(dir, 'spool'))}, maxBytes: 1 << 26, segmentBytes: 4096,
         whenFull: 'block', fsyncIntervalMs: 0, checkpointIntervalMs: 60000,
         events: { damaged() {}, dropped() {}, ioError() {} } });
       process.stdout.write('open\\n');
       setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    await assert.rejects(DiskSpool.open(options(path.join(dir, 'spool'))), (err: unknown) => {
      assert.ok(err instanceof WeirError && err.message.includes(`pid ${child.pid}`), String(err));
      return true;
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    const spool = await DiskSpool.open(options(path.join(dir, 'spool')));
    await spool.close();
  });
});

test('a spool directory that cannot be made fails the open at once (a path in /proc)', async () => {
  const started = Date.now();
  await assert.rejects(DiskSpool.open(options(`/proc/weir-spool-${process.pid}/spool`)), { code: 'ENOENT' });
  assert.ok(Date.now() - started < 2000);
});

describe('record origin on disk', () => {
  test('a frame keeps the origin; a record without one comes back without one', () => {
    const d = decodeFrame(encodeFrame(5, 't', rec(5)), 0, 5);
    assert.equal(d.kind, 'record');
    assert.deepEqual(d.kind === 'record' && d.value.record.origin, origin);
    const n = decodeFrame(encodeFrame(6, 't', rec(6, false)), 0, 6);
    assert.equal(n.kind === 'record' && n.value.record.origin, undefined);
  });

  test('records read back from the file (not from memory) carry their origin', async () => {
    const dir = tempDir();
    const spool = await DiskSpool.open(options(dir));
    for (let i = 0; i < 50; i++) await append(spool, rec(i));
    await spool.close();
    const again = await DiskSpool.open(options(dir));
    const got = [];
    for (let r = await again.read(1 << 20); r.length > 0; r = await again.read(1 << 20)) got.push(...r);
    assert.equal(got.length, 50);
    for (const r of got) assert.deepEqual(r.record.origin, origin);
    await again.close();
  });
});

describe('a spool left by an older weir (format 1)', () => {
  test('its records are read in order, and new records go to a new segment after them', async () => {
    const dir = tempDir();
    const header = segmentHeaderOf(1);
    const frames = [1, 2, 3].map((seq) => encodeFrame(seq, 't', rec(seq, false), 1));
    writeFileSync(path.join(dir, segmentName(1)), Buffer.concat([header, ...frames]));

    const spool = await DiskSpool.open(options(dir));
    await append(spool, rec(4));
    const got = [];
    for (let r = await spool.read(1 << 20); r.length > 0; r = await spool.read(1 << 20)) {
      for (const x of r) {
        got.push(x);
        spool.done(x.entry);
      }
    }
    assert.deepEqual(
      got.map((x) => [x.seq, x.record.value[0], x.record.origin?.clientId ?? null]),
      [
        [1, 1, null],
        [2, 2, null],
        [3, 3, null],
        [4, 4, 'modem-7'],
      ],
    );
    assert.equal(spool.stats().segments, 2, 'the old segment is not written to');
    await spool.close();
  });
});

/** Reads and marks done everything readable; returns the seqs. */
async function drain(spool: DiskSpool): Promise<number[]> {
  const seqs: number[] = [];
  for (let r = await spool.read(1 << 20); r.length > 0; r = await spool.read(1 << 20))
    for (const x of r) {
      seqs.push(x.seq);
      spool.done(x.entry);
    }
  return seqs;
}

describe('spool edge cases', () => {
  test('an append made just after a durable callback is written (the writer loop hands over in one step)', async () => {
    for (const hops of [0, 1, 2, 3]) {
      const spool = await DiskSpool.open(options(tempDir()));
      const second = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('never durable'), 2000);
        spool.append('t', rec(1), null, () => {
          let p: Promise<void> = Promise.resolve();
          for (let i = 0; i < hops; i++) p = p.then(() => {});
          void p.then(() =>
            spool.append('t', rec(2), null, (err) => {
              clearTimeout(timer);
              resolve(err ? err.message : 'durable');
            }),
          );
        });
      });
      assert.equal(second, 'durable', `${hops} microtask hops after the first's callback`);
      await spool.close();
    }
  });

  test('a CRC-valid frame that defines an entry and then fails adds nothing to the dictionary', async () => {
    const dir = tempDir();
    let spool = await DiskSpool.open(options(dir, { segmentBytes: 1 << 20 }));
    for (let i = 1; i <= 3; i++) await append(spool, rec(i));
    await spool.close();
    // Frame 4: defines topic 1, then refers to headers entry 99 that no frame defined.
    const body = Buffer.concat([
      Buffer.alloc(16),
      Buffer.from([0x31, 0x01, 0x01, 0x00, 0x78, 99]),
      Buffer.from([0xff, 0xff]),
      Buffer.from('v'),
    ]);
    body.writeUInt32LE(4, 0);
    body.writeUInt32LE(1, 8);
    const frame = Buffer.alloc(8 + body.length);
    frame.writeUInt32LE(body.length, 0);
    frame.writeUInt32LE(crc32(body), 4);
    body.copy(frame, 8);
    appendFileSync(path.join(dir, segmentName(1)), frame);

    const damage: string[] = [];
    const events = { damaged: (r: { reason: string }) => damage.push(r.reason), dropped() {}, ioError() {} };
    spool = await DiskSpool.open(options(dir, { segmentBytes: 1 << 20, events }));
    assert.match(damage[0] ?? '', /reference to entry 99/);
    for (let i = 4; i <= 8; i++) await append(spool, rec(i)); // acknowledged
    await spool.close();
    spool = await DiskSpool.open(options(dir, { segmentBytes: 1 << 20, events }));
    assert.deepEqual(await drain(spool), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(damage.length, 1, 'the second start finds nothing wrong');
    await spool.close();
  });

  test('dropOldest while the reader opens the segment it drops: the next segment is read whole', async () => {
    const dir = tempDir();
    let spool = await DiskSpool.open(options(dir));
    for (let i = 1; i <= 200; i++) await append(spool, rec(i));
    await spool.close();
    const bytes = readdirSync(dir)
      .filter((n) => n.endsWith('.seg'))
      .reduce((sum, n) => sum + statSync(path.join(dir, n)).size, 0);
    const damage: string[] = [];
    let dropped = 0;
    spool = await DiskSpool.open(
      options(dir, {
        whenFull: 'dropOldest',
        maxBytes: bytes + 50,
        events: { damaged: (r) => damage.push(r.reason), dropped: (n) => (dropped += n), ioError() {} },
      }),
    );
    const first = spool.read(1 << 20); // starts opening the first segment
    spool.append('t', rec(999), null, null); // does not fit: the first segment is dropped
    const got = (await first).map((r) => {
      spool.done(r.entry);
      return r.seq;
    });
    got.push(...(await drain(spool)));
    assert.deepEqual(damage, []);
    assert.ok(dropped > 0);
    assert.deepEqual(
      got,
      [...Array.from({ length: 200 - dropped }, (_, i) => dropped + 1 + i), 201],
      `${dropped} dropped by policy, every other record delivered in order`,
    );
    await spool.close();
  });

  test('an empty segment left by an older weir after its last roll does not stop the start', async () => {
    const dir = tempDir();
    const header = segmentHeaderOf(1);
    const frames = [1, 2, 3].map((seq) => encodeFrame(seq, 't', rec(seq, false), 1));
    writeFileSync(path.join(dir, segmentName(1)), Buffer.concat([header, ...frames]));
    writeFileSync(path.join(dir, segmentName(4)), Buffer.concat([header, frames[0]!.subarray(0, 10)]));
    const spool = await DiskSpool.open(
      options(dir, { events: { damaged() {}, dropped() {}, ioError() {} } }),
    );
    await append(spool, rec(4));
    assert.deepEqual(await drain(spool), [1, 2, 3, 4]);
    await spool.close();
  });

  test('a segment written by a newer weir stops the start instead of being cut', async () => {
    const dir = tempDir();
    const header = segmentHeaderOf(99);
    const file = path.join(dir, segmentName(1));
    writeFileSync(file, Buffer.concat([header, Buffer.alloc(100, 7)]));
    await assert.rejects(DiskSpool.open(options(dir)), { code: 'WEIR_SPOOL_FORMAT' });
    assert.equal(statSync(file).size, SEGMENT_HEADER_BYTES + 100, 'left as it was');
    const again = DiskSpool.open(options(dir)); // the failed open released the lock
    await assert.rejects(again, { code: 'WEIR_SPOOL_FORMAT' });
  });
});

test('a checkpoint whose number does not match its check is not trusted (a torn overwrite in place)', async () => {
  const dir = tempDir();
  await writeCheckpoint(dir, { ackedSeq: 1234 });
  assert.deepEqual((await readCheckpoint(dir)).checkpoint, { ackedSeq: 1234 });
  const file = path.join(dir, 'checkpoint.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('1234', '2034'));
  const { checkpoint, problem } = await readCheckpoint(dir);
  assert.equal(checkpoint, null);
  assert.match(problem ?? '', /unreadable/);
  // A checkpoint of an older weir (no check) is read as before.
  writeFileSync(file, '{"version":1,"ackedSeq":77}\n');
  assert.deepEqual((await readCheckpoint(dir)).checkpoint, { ackedSeq: 77 });
});
