import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configReference, REFERENCE_BEGIN, REFERENCE_END } from '../../gateway/config/reference.ts';

test('the README config reference is the one generated from the schema', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf(REFERENCE_BEGIN);
  const end = readme.indexOf(REFERENCE_END);
  assert.ok(start >= 0 && end > start, 'README has the reference markers');
  const current = readme.slice(start + REFERENCE_BEGIN.length, end).trim();
  assert.equal(current, configReference(), 'README is stale: run `node tools/update-readme.ts`');
});

test('the README quotes the spool figures of the latest benchmark result, the same everywhere', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const { figures: f } = JSON.parse(
    readFileSync(new URL('../../benchmarks/results/spool-append.json', import.meta.url), 'utf8'),
  ) as {
    figures: {
      recordsPerSec: number;
      mbPerSec: number;
      baselineFsyncPerRecordPerSec: number;
      ratioVsFsyncPerRecord: number;
    };
  };
  const n = (x: number) => x.toLocaleString('en-US');
  const durable = [...readme.matchAll(/([\d,]+) durable records\/s \(([\d.]+) MB\/s/g)];
  assert.ok(durable.length > 0, 'the README states the spool throughput');
  for (const [, records, mb] of durable)
    assert.deepEqual([records, Number(mb)], [n(f.recordsPerSec), f.mbPerSec]);
  assert.ok(
    readme.includes(
      `${Math.round(f.ratioVsFsyncPerRecord)} × one fsync per record (${n(f.baselineFsyncPerRecordPerSec)} records/s)`,
    ),
  );
  assert.ok(
    readme.includes(
      `${n(f.recordsPerSec)} vs ${n(f.baselineFsyncPerRecordPerSec)} records/s (${Math.round(f.ratioVsFsyncPerRecord)} ×)`,
    ),
  );
});
