import assert from 'node:assert/strict';
import { mkdtempSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { formatInspection, inspectSpool } from '../../gateway/spool/disk/inspect.ts';
import { DiskSpool } from '../../gateway/spool/disk/spool.ts';

test('inspect reports the checkpoint, what waits, the oldest unsent record and damage — read-only', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-inspect-'));
  const spool = await DiskSpool.open({
    dir,
    maxBytes: 1 << 30,
    segmentBytes: 2048,
    whenFull: 'block',
    fsyncIntervalMs: 0,
    checkpointIntervalMs: 60_000,
    events: { damaged: () => {}, dropped: () => {}, ioError: (err) => assert.fail(err) },
  });
  const t0 = 1_763_800_000_000;
  await Promise.all(
    Array.from(
      { length: 100 },
      (_, i) =>
        new Promise((resolve) =>
          spool.append(
            't',
            { key: Buffer.from('k'), value: Buffer.alloc(30), headers: {}, timestamp: t0 + i },
            null,
            resolve,
          ),
        ),
    ),
  );
  let delivered = 0;
  while (delivered < 40) for (const r of await spool.read(1)) if (delivered++ < 40) spool.done(r.entry);
  await spool.close();

  const before = await inspectSpool(dir);
  assert.equal(before.checkpoint?.ackedSeq, 40);
  assert.equal(before.waiting.records, 60);
  assert.equal(before.waiting.firstSeq, 41);
  assert.equal(before.waiting.lastSeq, 100);
  assert.equal(before.oldestUnsentAt, t0 + 40);
  assert.deepEqual(before.damage, []);

  const last = before.segments.at(-1)!.file;
  const size = statSync(last).size;
  truncateSync(last, size - 5);
  const after = await inspectSpool(dir);
  assert.equal(after.damage.length, 1);
  assert.match(after.damage[0]!.reason, /torn/);
  assert.equal(after.waiting.records, 59);
  assert.equal(statSync(last).size, size - 5, 'inspect changes nothing');
  assert.match(formatInspection(after, t0 + 60_000), /waiting {6}59 records/);
});
