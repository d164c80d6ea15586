// kafka.sasl / kafka.tls in the config: secrets only from files or the environment, every
// problem listed at once, secrets never printed; and the mapping to each client's options.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Secret } from '../../gateway/config/kafka-security.ts';
import { ConfigError, parseConfig } from '../../gateway/config/load.ts';
import { WeirError } from '../../gateway/errors.ts';
import { createLogger } from '../../gateway/log.ts';
import {
  kafkajsSecurity,
  librdkafkaSecurity,
  platformaticSecurity,
  securityError,
} from '../../gateway/sinks/kafka/security.ts';

const schemas = fileURLToPath(new URL('../../schemas', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'weir-kafka-security-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const password = `pw-${randomUUID()}`;
const passwordFile = path.join(dir, 'kafka.password');
writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
chmodSync(passwordFile, 0o600);
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
writeFileSync(path.join(dir, 'ca.pem'), PEM_CERT);
writeFileSync(path.join(dir, 'client.pem'), PEM_CERT);
writeFileSync(path.join(dir, 'client.key'), PEM_KEY, { mode: 0o600 });
chmodSync(path.join(dir, 'client.key'), 0o600);

function config(kafka: Record<string, unknown>) {
  return {
    auth: 'none',
    kafka: { brokers: ['127.0.0.1:9092'], ...kafka },
    routes: [
      {
        name: 'r',
        mqttTopic: 'fleet/{fleetId}/vehicles/{vehicleId}/position',
        kafkaTopic: 't',
        schema: path.join(schemas, 'vehicle-gps.avsc'),
      },
    ],
  };
}

function problemsOf(kafka: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(config(kafka), dir, {}, 'test.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes(password), 'a config error never shows the password');
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('config was accepted');
}

test('a password file (relative to the config file) or an environment variable gives the password', () => {
  const fromFile = parseConfig(
    config({ sasl: { mechanism: 'scram-sha-256', username: 'weir', passwordFile: 'kafka.password' } }),
    dir,
    {},
    'test.yaml',
    {},
  );
  assert.equal(fromFile.kafkaSecurity.sasl?.password.reveal(), password, 'one trailing newline is dropped');
  assert.equal(fromFile.kafkaSecurity.tls, null);
  assert.deepEqual(fromFile.warnings, []);
  const fromEnv = parseConfig(
    config({ sasl: { mechanism: 'plain', username: 'weir', passwordEnv: 'WEIR_TEST_KAFKA_PASSWORD' } }),
    dir,
    {},
    'test.yaml',
    { WEIR_TEST_KAFKA_PASSWORD: password },
  );
  assert.equal(fromEnv.kafkaSecurity.sasl?.password.reveal(), password);
  assert.equal(fromEnv.kafkaSecurity.sasl?.mechanism, 'plain');
  assert.match(fromEnv.warnings.join('\n'), /plain without kafka\.tls/);
  // The parsed config itself holds no secret: logging it cannot leak one.
  assert.ok(!JSON.stringify(fromEnv.config).includes(password));
  assert.ok(!JSON.stringify(fromEnv).includes(password));
  assert.ok(!inspect(fromEnv, { depth: 10 }).includes(password));
});

test('an inline password is refused without being echoed', () => {
  const problems = problemsOf({ sasl: { mechanism: 'plain', username: 'weir', password } });
  assert.ok(
    problems.some((p) => /kafka\.sasl\.password: an inline password is refused/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /needs passwordFile or passwordEnv/.test(p)),
    problems.join('\n'),
  );
});

test('every security problem is listed in one run', () => {
  const problems = problemsOf({
    sasl: { mechanism: 'scram-sha-1', username: 'weir', passwordFile: 'missing.password' },
    tls: { enabled: true, caFile: 'missing-ca.pem', certFile: 'client.pem' },
  });
  const expected = [
    /^kafka\.sasl\.mechanism: /,
    /^kafka\.sasl\.passwordFile: cannot read .*missing\.password: ENOENT/,
    /^kafka\.tls\.caFile: cannot read .*missing-ca\.pem: ENOENT/,
    /^kafka\.tls\.keyFile: a client certificate needs both certFile and keyFile/,
  ];
  for (const re of expected)
    assert.ok(
      problems.some((p) => re.test(p)),
      `${re}\n${problems.join('\n')}`,
    );
});

test('an unset or empty environment variable, or both sources at once, are problems', () => {
  const sasl = { mechanism: 'plain', username: 'weir', passwordEnv: 'WEIR_TEST_UNSET' };
  assert.deepEqual(problemsOf({ sasl }), [
    'kafka.sasl.passwordEnv: environment variable WEIR_TEST_UNSET is not set',
  ]);
  assert.deepEqual(problemsOf({ sasl }, { WEIR_TEST_UNSET: '' }), [
    'kafka.sasl.passwordEnv: environment variable WEIR_TEST_UNSET is empty',
  ]);
  const both = problemsOf({ sasl: { ...sasl, passwordFile: 'kafka.password' } }, { WEIR_TEST_UNSET: 'x' });
  assert.deepEqual(both, ['kafka.sasl: give passwordFile or passwordEnv, not both']);
});

test('TLS files are read and checked; settings without tls.enabled are refused', () => {
  const loaded = parseConfig(
    config({ tls: { enabled: true, caFile: 'ca.pem', certFile: 'client.pem', keyFile: 'client.key' } }),
    dir,
    {},
    'test.yaml',
    {},
  );
  const tls = loaded.kafkaSecurity.tls;
  assert.equal(tls?.ca, PEM_CERT);
  assert.equal(tls?.key?.reveal(), PEM_KEY);
  assert.equal(tls?.caFile, path.join(dir, 'ca.pem'));
  assert.equal(tls?.rejectUnauthorized, true);
  assert.deepEqual(problemsOf({ tls: { caFile: 'ca.pem' } }), [
    'kafka.tls.caFile: is set but kafka.tls.enabled is not true: set enabled: true to connect over TLS',
  ]);
  assert.deepEqual(problemsOf({ tls: { enabled: true, caFile: 'client.key' } }), [
    'kafka.tls.caFile: is not a PEM certificate (no BEGIN CERTIFICATE line)',
  ]);
});

test('a world-readable password file and rejectUnauthorized: false are warnings', () => {
  const loose = path.join(dir, 'loose.password');
  writeFileSync(loose, 'secret\n');
  chmodSync(loose, 0o644);
  const loaded = parseConfig(
    config({
      sasl: { mechanism: 'plain', username: 'weir', passwordFile: 'loose.password' },
      tls: { enabled: true, rejectUnauthorized: false },
    }),
    dir,
    {},
    'test.yaml',
    {},
  );
  assert.equal(loaded.warnings.length, 2, loaded.warnings.join('\n'));
  assert.match(loaded.warnings.join('\n'), /readable by every user/);
  assert.match(loaded.warnings.join('\n'), /rejectUnauthorized is false/);
});

test('a Secret prints as [redacted] however it is printed', () => {
  const s = new Secret(password);
  assert.equal(`${s}`, '[redacted]');
  assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  assert.ok(!inspect({ s }).includes(password));
});

test('the same settings map to kafkajs, @platformatic/kafka and librdkafka options', () => {
  const security = {
    sasl: { mechanism: 'scram-sha-512' as const, username: 'weir', password: new Secret(password) },
    tls: {
      ca: PEM_CERT,
      cert: PEM_CERT,
      key: new Secret(PEM_KEY),
      caFile: '/etc/weir/ca.pem',
      certFile: '/etc/weir/client.pem',
      keyFile: '/etc/weir/client.key',
      servername: 'kafka.example',
      rejectUnauthorized: true,
    },
  };
  const tls = {
    ca: [PEM_CERT],
    cert: PEM_CERT,
    key: PEM_KEY,
    servername: 'kafka.example',
    rejectUnauthorized: true,
  };
  assert.deepEqual(kafkajsSecurity(security), {
    ssl: tls,
    sasl: { mechanism: 'scram-sha-512', username: 'weir', password },
  });
  const p = platformaticSecurity(security);
  assert.deepEqual(p.tls, tls);
  assert.equal(p.sasl?.mechanism, 'SCRAM-SHA-512');
  assert.equal(p.sasl?.password(), password);
  assert.deepEqual(librdkafkaSecurity(security), {
    'security.protocol': 'sasl_ssl',
    'sasl.mechanisms': 'SCRAM-SHA-512',
    'sasl.username': 'weir',
    'sasl.password': password,
    'ssl.ca.location': '/etc/weir/ca.pem',
    'ssl.certificate.location': '/etc/weir/client.pem',
    'ssl.key.location': '/etc/weir/client.key',
    'enable.ssl.certificate.verification': 'true',
    'ssl.endpoint.identification.algorithm': 'https',
  });
  assert.deepEqual(
    librdkafkaSecurity({ sasl: security.sasl, tls: null })['security.protocol'],
    'sasl_plaintext',
  );
  assert.deepEqual(librdkafkaSecurity({ sasl: null, tls: security.tls })['security.protocol'], 'ssl');
  assert.deepEqual(librdkafkaSecurity({ sasl: null, tls: null }), { 'security.protocol': 'plaintext' });
  assert.deepEqual(kafkajsSecurity({ sasl: null, tls: null }), {});
});

test('authentication and certificate failures of either client become WEIR_KAFKA_AUTH / WEIR_KAFKA_TLS', () => {
  const kafkajsAuth = Object.assign(new Error('SASL PLAIN authentication failed'), {
    name: 'KafkaJSSASLAuthenticationError',
  });
  const platformaticAuth = Object.assign(new Error('Connection failed'), {
    code: 'PLT_KFK_MULTIPLE',
    errors: [Object.assign(new Error('SASL authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' })],
  });
  const tls = new Error('Connection error', {
    cause: Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    }),
  });
  for (const [err, code] of [
    [kafkajsAuth, 'WEIR_KAFKA_AUTH'],
    [platformaticAuth, 'WEIR_KAFKA_AUTH'],
    [tls, 'WEIR_KAFKA_TLS'],
  ] as const) {
    const classified = securityError(err);
    assert.ok(classified instanceof WeirError);
    assert.equal(classified.code, code);
    assert.ok(classified.cause instanceof Error, 'the client error that says so is the cause');
  }
  assert.equal(securityError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), null);
});

test("weir's logger writes [redacted] for secret-looking fields", () => {
  const lines: string[] = [];
  const log = createLogger('info', { write: (line: string) => lines.push(line) });
  log.info(
    { sasl: { mechanism: 'plain', password }, kafka: { sasl: { password } }, ssl: { key: password } },
    'x',
  );
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes(password), lines[0]);
  assert.match(lines[0]!, /"mechanism":"plain"/);
  assert.match(lines[0]!, /\[redacted\]/);
});
