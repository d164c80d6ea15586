// One gateway per spool directory (the OS lock), reading spools an older weir left (format 1),
// and the origin of each record (client id, QoS, route) kept on disk for its dead letter.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { OutboundRecord } from '../../gateway/contracts.ts';
import { WeirError } from '../../gateway/errors.ts';
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
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    SEGMENT_MAGIC.copy(header, 0);
    header.writeUInt32LE(1, 8);
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
