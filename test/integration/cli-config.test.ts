// `weir config check FILE` as users run it: the sample configs pass; a broken config lists every
// problem with its path and exits 2; usage errors exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { configReference } from '../../gateway/config/reference.ts';
import { examplePath, repoRoot } from '../support/gateway.ts';

function weir(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/weir.ts'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('weir config check', () => {
  test('the sample config is valid (exit 0)', () => {
    const r = weir('config', 'check', examplePath);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${examplePath}: valid (3 routes)\n`);
  });

  test('a broken config: every problem listed with its path, exit 2, nothing started', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-config-check-'));
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(
      file,
      [
        'mqtt: {port: 70000, colour: blue}',
        'auth: none',
        'kafka: {brokers: ["no-port"], compression: lz4}',
        'spool: {whenFull: sometimes}',
        'http: {port: -1}',
        'log: {level: loud}',
        'routes:',
        `  - {name: no_route, mqttTopic: "a/{id}", kafkaTopic: t1, schema: ${path.join(repoRoot, 'schemas/vehicle-gps.avsc')}}`,
        '  - {name: Bad Name, mqttTopic: "b/+", kafkaTopic: "bad topic", schema: missing.avsc}',
      ].join('\n'),
    );
    const r = weir('config', 'check', file);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const expected = [
      /mqtt\.port: /,
      /mqtt\.colour: unknown key\n/,
      /kafka\.brokers\[0\]: expected host:port/,
      /kafka\.compression: /,
      /spool\.whenFull: /,
      /http\.port: /,
      /log\.level: /,
      /routes\[0\]\.name: 'no_route' is reserved/,
      /routes\[1\]\.name: lower-case letters/,
      /routes\[1\]\.kafkaTopic: a Kafka topic name/,
      /routes\[1\]\.mqttTopic: needs at least one \{named\} segment/,
      /routes\[1\]\.schema: file not found/,
    ];
    for (const problem of expected) assert.match(r.stderr, problem);
    assert.match(r.stderr, new RegExp(`invalid config .*broken\\.yaml \\(${expected.length} problems\\)`));
  });

  test('unreadable or unparsable files, and usage errors, exit 2', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-config-check-'));
    const yaml = path.join(dir, 'bad.yaml');
    writeFileSync(yaml, 'kafka: [unclosed\n');
    const broken = weir('config', 'check', yaml);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /YAML/);
    assert.equal(weir('config', 'check', path.join(dir, 'none.yaml')).code, 2);
    assert.equal(weir('config', 'check').code, 2);
    assert.equal(weir('config').code, 2);
  });

  test('weir config reference prints the reference generated from the schema', () => {
    const r = weir('config', 'reference');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${configReference()}\n`);
    assert.match(r.stdout, /\| `http\.port` \| integer 0–65535 \| `9464` \|/);
  });
});
