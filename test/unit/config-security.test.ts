import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig } from '../../gateway/config/load.ts';
import { makeTestPki } from '../support/certs.ts';

const schemas = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'schemas');
const base = {
  kafka: { brokers: ['127.0.0.1:9092'] },
  routes: [
    {
      name: 'r',
      mqttTopic: 'fleet/{fleetId}/vehicles/{vehicleId}/position',
      kafkaTopic: 't',
      schema: 'vehicle-gps.avsc',
    },
  ],
};

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    parseConfig({ ...base, ...raw }, schemas);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('config: device security', () => {
  const pki = makeTestPki();

  test('auth is required, and an empty object is not a choice', () => {
    assert.match(problemsOf({}).join('\n'), /^auth: required: 'auth: none'/m);
    assert.deepEqual(problemsOf({ auth: {} }), ['auth: set usersFile, clientCertificates: true, or both']);
    assert.deepEqual(problemsOf({ auth: 'none' }), []);
  });

  test('a TLS listener with a working certificate and key is accepted; a key of another certificate is not', () => {
    const tls = { enabled: true, certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile };
    assert.deepEqual(problemsOf({ auth: 'none', mqtt: { tls } }), []);
    const other = pki.client('someone');
    const otherKey = path.join(pki.dir, 'ca-client-someone.key');
    assert.ok(other.key.length > 0);
    assert.match(
      problemsOf({ auth: 'none', mqtt: { tls: { ...tls, keyFile: otherKey } } }).join('\n'),
      /^mqtt\.tls: certFile, keyFile and caFile are not a usable TLS setup: .*key values mismatch/m,
    );
    assert.deepEqual(problemsOf({ auth: 'none', mqtt: { tls: { enabled: true } } }).sort(), [
      'mqtt.tls.certFile: required when mqtt.tls.enabled',
      'mqtt.tls.keyFile: required when mqtt.tls.enabled',
    ]);
  });

  test('certificate logins need a TLS listener that asks for certificates', () => {
    const tls = { enabled: true, certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile };
    assert.deepEqual(problemsOf({ auth: { clientCertificates: true } }), [
      'auth.clientCertificates: needs mqtt.tls.enabled: true and mqtt.tls.clientCertificates: optional or required',
    ]);
    assert.equal(problemsOf({ auth: { clientCertificates: true }, mqtt: { tls } }).length, 1);
    assert.deepEqual(
      problemsOf({
        auth: { clientCertificates: true },
        mqtt: { tls: { ...tls, clientCertificates: 'optional' } },
      }),
      [],
    );
  });

  test('bad subscribe rules and a gateway without any listener are reported', () => {
    assert.deepEqual(problemsOf({ auth: 'none', acl: { subscribe: [{ pattern: 'cmd/#/x' }] } }), [
      "acl.subscribe[0].pattern: '#' must be the last level",
    ]);
    assert.deepEqual(problemsOf({ auth: 'none', mqtt: { plainTcp: false } }), [
      'mqtt: no listener: plainTcp is false and neither tls nor websocket is enabled',
    ]);
  });
});
