// error-codes.ts is the one list of weir's error codes: every code the source raises is in it
// (with a meaning), every code in it is raised somewhere, and WeirError answers `retriable` from it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCode } from '../../gateway/error-codes.ts';
import { WeirError } from '../../gateway/errors.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_DIRS = ['gateway', 'tools', 'device-sim', 'bin', 'benchmarks'];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(file);
    else if (entry.name.endsWith('.ts') && file !== path.join(root, 'gateway', 'error-codes.ts')) yield file;
  }
}

/** 'WEIR_…' string literals in the source, minus environment variable names (read via env). */
function codesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const dir of SOURCE_DIRS) {
    for (const file of sourceFiles(path.join(root, dir))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/'(WEIR_[A-Z0-9_]+)'/g)) {
        const before = text.slice(Math.max(0, m.index - 12), m.index);
        if (/env\[$|env\.get\($/.test(before) || /^WEIR_[A-Z_]+_ENV$/.test(m[1]!)) continue;
        if (!found.has(m[1]!)) found.set(m[1]!, path.relative(root, file));
      }
    }
  }
  return found;
}

test('every error code the source uses is listed, with a meaning', () => {
  const missing = [...codesInSource()].filter(([code]) => !(code in ERROR_CODES));
  assert.deepEqual(missing, [], 'add these to gateway/error-codes.ts');
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.ok(info.meaning.length > 10, `${code} has a meaning`);
  }
});

test('every listed error code is used somewhere', () => {
  const used = codesInSource();
  const unused = Object.keys(ERROR_CODES).filter((code) => !used.has(code));
  assert.deepEqual(unused, [], 'codes nothing raises any more');
});

test("a WeirError is retriable exactly when its code's entry says so", () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    assert.equal(new WeirError(code, 'x').retriable, ERROR_CODES[code].retriable, code);
  }
});
