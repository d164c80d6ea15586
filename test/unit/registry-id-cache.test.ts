import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ID_CACHE_FILE, SchemaIdCache } from '../../gateway/registry/id-cache.ts';

const fp = (s: string) => createHash('sha256').update(s).digest('hex');

function tempDir(t: { after: (fn: () => Promise<void>) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-idcache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('ids learnt before a restart are known after it, per subject and fingerprint', async (t) => {
  const dir = tempDir(t);
  const first = await SchemaIdCache.open(dir);
  assert.equal(first.problem, undefined);
  assert.equal(first.cache.size, 0);
  await first.cache.set('city-value', fp('a'), 1);
  await first.cache.set('city-value', fp('b'), 7);
  await first.cache.set('gps-value', fp('a'), 2);

  const { cache, problem } = await SchemaIdCache.open(dir);
  assert.equal(problem, undefined);
  assert.equal(cache.get('city-value', fp('a')), 1);
  assert.equal(cache.get('city-value', fp('b')), 7);
  assert.equal(cache.get('gps-value', fp('a')), 2);
  assert.equal(cache.get('gps-value', fp('b')), undefined, 'a miss is a miss, never a guess');
  assert.equal(cache.size, 3);
  // only the cache file is left: the temp file was renamed over it
  assert.deepEqual(readdirSync(dir), [ID_CACHE_FILE]);
});

test('concurrent updates all reach the file, the last id for a pair wins', async (t) => {
  const dir = tempDir(t);
  const { cache } = await SchemaIdCache.open(dir, 'ids.json');
  await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`s${i % 5}`, fp(String(i)), i + 1)));
  await cache.set('s0', fp('0'), 99);
  const reread = (await SchemaIdCache.open(dir, 'ids.json')).cache;
  assert.equal(reread.size, 50);
  assert.equal(reread.get('s0', fp('0')), 99);
  assert.equal(reread.get('s4', fp('49')), 50);
  const onDisk = JSON.parse(readFileSync(path.join(dir, 'ids.json'), 'utf8'));
  assert.equal(onDisk.version, 1);
  assert.equal(onDisk.ids.s0[fp('0')], 99);
});

test('a damaged file is reported and the cache starts empty, then the next write repairs it', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, ID_CACHE_FILE);
  for (const damaged of [
    '{"version":1,"ids":{"s":{"abc":1}}', // torn
    '{"version":2,"ids":{}}', // unknown version
    `{"version":1,"ids":{"s":{"${fp('x')}":-4}}}`, // not an id
    `{"version":1,"ids":{"s":{"${fp('x')}":"4"}}}`,
    '\u0000\u0000\u0000',
  ]) {
    writeFileSync(file, damaged);
    const { cache, problem } = await SchemaIdCache.open(dir);
    assert.match(problem ?? '', /unreadable schema id cache/, damaged);
    assert.equal(cache.size, 0);
  }
  const { cache } = await SchemaIdCache.open(dir);
  await cache.set('s', fp('x'), 3);
  const repaired = await SchemaIdCache.open(dir);
  assert.equal(repaired.problem, undefined);
  assert.equal(repaired.cache.get('s', fp('x')), 3);
});

test('arguments that could not be read back are refused before anything is written', async (t) => {
  const dir = tempDir(t);
  const { cache } = await SchemaIdCache.open(dir);
  assert.throws(() => cache.set('', fp('x'), 1), TypeError);
  assert.throws(() => cache.set('s', 'not-hex', 1), TypeError);
  assert.throws(() => cache.set('s', fp('x'), -1), TypeError);
  assert.throws(() => cache.set('s', fp('x'), 2 ** 31), TypeError);
  assert.deepEqual(readdirSync(dir), []);
});

test('a write that fails (directory gone) fails its caller, and later writes still work', async (t) => {
  const dir = tempDir(t);
  const sub = path.join(dir, 'spool');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(sub);
  const { cache } = await SchemaIdCache.open(sub);
  await rm(sub, { recursive: true });
  await assert.rejects(cache.set('s', fp('x'), 1), { code: 'ENOENT' });
  mkdirSync(sub);
  await cache.set('s', fp('y'), 2);
  const reread = (await SchemaIdCache.open(sub)).cache;
  assert.equal(reread.get('s', fp('x')), 1, 'the entry whose write failed is written with the next one');
  assert.equal(reread.get('s', fp('y')), 2);
});
