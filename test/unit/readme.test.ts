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
