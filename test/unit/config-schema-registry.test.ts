import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { schemaRegistrySchema } from '../../gateway/config/schema-registry.ts';
import { registryClientOptions } from '../../gateway/registry/from-config.ts';

const problems = (input: unknown): string[] => {
  const r = schemaRegistrySchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('only urls is required; the rest has defaults (TopicName, confluent, 10 s, schema-ids.json)', () => {
  assert.equal(schemaRegistrySchema.parse(undefined), undefined, 'absent section: no registry');
  assert.deepEqual(schemaRegistrySchema.parse({ urls: ['http://127.0.0.1:18081/apis/ccompat/v7'] }), {
    urls: ['http://127.0.0.1:18081/apis/ccompat/v7'],
    tls: { rejectUnauthorized: true },
    subjectNameStrategy: 'TopicName',
    wireFormat: 'confluent',
    autoRegister: true,
    requestTimeoutMs: 10_000,
    cacheFile: 'schema-ids.json',
  });
});

test('secrets are refused inline and must come from exactly one of a file or an env var', () => {
  const urls = ['https://registry:8081'];
  assert.deepEqual(problems({ urls, auth: { basic: { username: 'u', passwordFile: 'pw' } } }), []);
  assert.deepEqual(problems({ urls, auth: { bearer: { tokenEnv: 'REGISTRY_TOKEN' } } }), []);
  assert.match(
    problems({ urls, auth: { basic: { username: 'u', password: 'hunter2' } } }).join('\n'),
    /inline password is refused/,
  );
  assert.match(
    problems({ urls, auth: { bearer: { token: 'abc', tokenEnv: 'T' } } }).join('\n'),
    /inline token is refused/,
  );
  assert.match(
    problems({ urls, auth: { basic: { username: 'u' } } }).join('\n'),
    /needs passwordFile or passwordEnv/,
  );
  assert.match(
    problems({ urls, auth: { basic: { username: 'u', passwordFile: 'f', passwordEnv: 'E' } } }).join('\n'),
    /not both/,
  );
  assert.notDeepEqual(problems({ urls, auth: { digest: {} } }), []);
});

test('bad urls, a cache file outside the spool dir and unknown keys are refused', () => {
  assert.notDeepEqual(problems({ urls: [] }), []);
  assert.notDeepEqual(problems({ urls: ['ftp://x'] }), []);
  assert.notDeepEqual(problems({ urls: ['https://user:pw@registry'] }), [], 'credentials in a URL');
  assert.notDeepEqual(problems({ urls: ['http://x'], cacheFile: '../ids.json' }), []);
  assert.notDeepEqual(problems({ urls: ['http://x'], subjectNameStrategy: 'TopicNameStrategy' }), []);
  assert.notDeepEqual(problems({ urls: ['http://x'], wireFormat: 'json' }), []);
  assert.notDeepEqual(problems({ urls: ['http://x'], requestTimeoutMs: 0 }), []);
  assert.notDeepEqual(problems({ urls: ['http://x'], lingerMs: 5 }), []);
});

test('the client options read the password file (one trailing newline dropped), the env var and the CA file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-registry-config-'));
  writeFileSync(path.join(dir, 'pw'), 's3cret\n');
  writeFileSync(path.join(dir, 'ca.pem'), 'PEM');
  const basic = registryClientOptions(
    schemaRegistrySchema.parse({
      urls: ['https://r:8081'],
      auth: { basic: { username: 'weir', passwordFile: 'pw' } },
      tls: { caFile: 'ca.pem' },
    })!,
    { baseDir: dir, env: {} },
  );
  assert.deepEqual(basic.auth, { type: 'basic', username: 'weir', password: 's3cret' });
  assert.equal(basic.tls?.ca?.toString(), 'PEM');
  const bearer = registryClientOptions(
    schemaRegistrySchema.parse({ urls: ['https://r'], auth: { bearer: { tokenEnv: 'TOK' } } })!,
    { baseDir: dir, env: { TOK: 'abc' } },
  );
  assert.deepEqual(bearer.auth, { type: 'bearer', token: 'abc' });
  const fails = (section: unknown, env: NodeJS.ProcessEnv = {}) =>
    assert.throws(() => registryClientOptions(schemaRegistrySchema.parse(section)!, { baseDir: dir, env }), {
      code: 'WEIR_REGISTRY_CONFIG',
    });
  fails({ urls: ['https://r'], auth: { bearer: { tokenEnv: 'TOK' } } });
  fails({ urls: ['https://r'], auth: { bearer: { tokenEnv: 'TOK' } } }, { TOK: '' });
  fails({ urls: ['https://r'], auth: { basic: { username: 'u', passwordFile: 'missing' } } });
  fails({ urls: ['https://r'], tls: { caFile: 'missing.pem' } });
});
