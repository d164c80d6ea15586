// The operator's side of device security: `weir passwd` writing a users file, config errors for a
// missing `auth` and unreadable certificate files, the hardened sample config loading and
// working, and no password ever in weir's log or /status.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { parseUsersFile } from '../../gateway/auth/users-file.ts';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { loadConfigFile, parseConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { consumeAll, testKafkaBrokers } from '../helpers/kafka.ts';
import { makeTestPki } from '../support/certs.ts';
import { publishSequence } from '../support/devices.ts';
import { repoRoot } from '../support/gateway.ts';
import { login, rawConnect } from '../support/security.ts';
import { runWeir, spawnWeir, tempDir, WEIR, waitForOutput } from '../support/weir-cli.ts';

const vehicleType = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;

function passwd(...args: string[]) {
  const [input, ...rest] = args;
  const r = spawnSync(process.execPath, [WEIR, 'passwd', ...rest], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('device security: configuration', () => {
  test('weir passwd creates, changes and removes logins in a 0600 users file, from stdin', (t) => {
    const dir = tempDir(t, 'weir-passwd-');
    const file = path.join(dir, 'users');
    assert.equal(passwd('first secret\n', file, 'press-01').code, 0);
    assert.equal(passwd('other secret', file, 'press-02').code, 0);
    const before = parseUsersFile(readFileSync(file, 'utf8')).users;
    const changed = passwd('second secret\n', file, 'press-01');
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /changed press-01/);
    const text = readFileSync(file, 'utf8');
    const after = parseUsersFile(text);
    assert.deepEqual(after.problems, []);
    assert.deepEqual([...after.users.keys()], ['press-01', 'press-02']);
    assert.notDeepEqual(after.users.get('press-01')!.hash, before.get('press-01')!.hash);
    assert.deepEqual(after.users.get('press-02'), before.get('press-02'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.doesNotMatch(text, /secret/);

    assert.equal(passwd('', file, '--delete', 'press-02').code, 0);
    assert.deepEqual([...parseUsersFile(readFileSync(file, 'utf8')).users.keys()], ['press-01']);
    assert.equal(passwd('', file, '--delete', 'press-02').code, 1, 'deleting an unknown device fails');
    assert.equal(passwd('x\n', file, 'bad/id').code, 2);
    assert.equal(passwd('\n', file, 'press-03').code, 1, 'an empty password is refused');
  });

  test('config errors: auth missing, unreadable certificate and users files — every problem listed', async (t) => {
    const dir = tempDir(t, 'weir-sec-config-');
    const route = `  - {name: v, mqttTopic: "fleet/{fleetId}/vehicles/{vehicleId}/position", kafkaTopic: t, schema: ${path.join(repoRoot, 'schemas/vehicle-gps.avsc')}}`;
    const noAuth = path.join(dir, 'no-auth.yaml');
    writeFileSync(noAuth, ['kafka: {brokers: ["127.0.0.1:9092"]}', 'routes:', route].join('\n'));
    const r1 = await runWeir(['config', 'check', noAuth]);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /auth: required: 'auth: none' accepts every device without a login/);
    assert.match(r1.stderr, /usersFile/);

    const badFiles = path.join(dir, 'bad-files.yaml');
    writeFileSync(
      badFiles,
      [
        'mqtt: {tls: {enabled: true, certFile: missing.crt, keyFile: missing.key, clientCertificates: required}}',
        'auth: {usersFile: no-such-users, clientCertificates: true}',
        'kafka: {brokers: ["127.0.0.1:9092"]}',
        'routes:',
        route,
      ].join('\n'),
    );
    const r2 = await runWeir(['config', 'check', badFiles]);
    assert.equal(r2.code, 2);
    const expected = [
      /mqtt\.tls\.caFile: required when mqtt\.tls\.clientCertificates is required/,
      new RegExp(`mqtt\\.tls\\.certFile: cannot read ${dir}/missing\\.crt: file not found`),
      /mqtt\.tls\.keyFile: cannot read .*missing\.key: file not found/,
      /auth\.usersFile: cannot read .*no-such-users: file not found \(create it with: weir passwd/,
    ];
    for (const e of expected) assert.match(r2.stderr, e);
    assert.match(r2.stderr, /\(4 problems\)/);
  });

  test('the hardened sample config loads, and its TLS logins work against Kafka', async (t) => {
    // The sample with the files it names: certificates, a users file, the schemas beside it.
    const root = tempDir(t, 'weir-hardened-');
    const etc = path.join(root, 'deploy');
    mkdirSync(path.join(etc, 'tls'), { recursive: true });
    cpSync(path.join(repoRoot, 'schemas'), path.join(root, 'schemas'), { recursive: true });
    const sample = path.join(etc, 'weir.hardened.yaml');
    copyFileSync(path.join(repoRoot, 'deploy/weir.hardened.yaml'), sample);
    const pki = makeTestPki();
    copyFileSync(pki.certFile, path.join(etc, 'tls/server.crt'));
    copyFileSync(pki.keyFile, path.join(etc, 'tls/server.key'));
    copyFileSync(pki.caFile, path.join(etc, 'tls/ca.crt'));
    assert.equal(passwd('pw-of-legacy-bus\n', path.join(etc, 'users'), 'legacy-bus').code, 0);

    const { config } = loadConfigFile(sample);
    assert.equal(config.mqtt.plainTcp, false);
    assert.equal(config.mqtt.tls.clientCertificates, 'optional');
    assert.deepEqual(config.auth, { usersFile: 'users', clientCertificates: true });

    // Run it: free ports, this test's Kafka and topics.
    const raw = parse(readFileSync(sample, 'utf8'));
    const topic = `test.hardened.${Date.now()}`;
    raw.mqtt.tls = { ...raw.mqtt.tls, host: '127.0.0.1', port: 0 };
    raw.kafka = { ...raw.kafka, brokers: testKafkaBrokers(), deadLetterTopic: `${topic}.deadletter` };
    raw.routes[2].kafkaTopic = topic;
    raw.http = { ...raw.http, port: 0 };
    raw.spool = { dir: path.join(root, 'spool') };
    const gateway = await startGateway(parseConfig(raw, etc), { log: pino({ level: 'warn' }) });
    t.after(() => gateway.stop());
    assert.deepEqual(
      gateway.listeners.map((l) => l.transport),
      ['tls'],
    );
    const url = `mqtts://127.0.0.1:${gateway.listeners[0]!.port}`;
    const cert = pki.client('bus-17');
    const byCert = await login(url, { clientId: 'bus-17', ca: pki.ca, cert: cert.cert, key: cert.key });
    const byPassword = await login(url, {
      clientId: 'legacy-bus',
      ca: pki.ca,
      username: 'legacy-bus',
      password: 'pw-of-legacy-bus',
    });
    assert.ok(byCert.client && byPassword.client, `${byCert.code} ${byPassword.code}`);
    t.after(() => Promise.all([byCert.client?.endAsync(), byPassword.client?.endAsync()]));
    await publishSequence(byCert.client, 'vehicle', 'bus-17', 5);
    await publishSequence(byPassword.client, 'vehicle', 'legacy-bus', 5);
    const got = await consumeAll({ topics: [topic], expected: 10, timeoutMs: 30_000 });
    const ids = got.map((m) => (vehicleType.fromBuffer(m.value!) as { deviceId: string }).deviceId);
    assert.deepEqual(
      [ids.filter((id) => id === 'bus-17').length, ids.filter((id) => id === 'legacy-bus').length],
      [5, 5],
    );
  });

  test('passwords never appear in the log (trace level) or in /status and /metrics; SIGHUP reloads the users file', async (t) => {
    const dir = tempDir(t, 'weir-secrets-');
    const PASSWORD = `Pw-${Math.random().toString(36).slice(2)}-never-logged`;
    const WRONG = `Wrong-${Math.random().toString(36).slice(2)}-never-logged`;
    const users = path.join(dir, 'users');
    assert.equal(passwd(`${PASSWORD}\n`, users, 'bus-s').code, 0);
    const usersText = readFileSync(users, 'utf8');
    const [salt, hash] = usersText.trim().split('$').slice(4);
    const config = path.join(dir, 'weir.yaml');
    const topic = `test.secrets.${Date.now()}`;
    writeFileSync(
      config,
      stringify({
        mqtt: { host: '127.0.0.1', port: 0 },
        auth: { usersFile: 'users' },
        kafka: { brokers: testKafkaBrokers(), deadLetterTopic: `${topic}.deadletter` },
        spool: { dir: path.join(dir, 'spool') },
        http: { host: '127.0.0.1', port: 0 },
        routes: [
          {
            name: 'v',
            mqttTopic: 'fleet/{fleetId}/vehicles/{vehicleId}/position',
            kafkaTopic: topic,
            schema: path.join(repoRoot, 'schemas/vehicle-gps.avsc'),
          },
        ],
      }),
    );
    const weir = spawnWeir(['start', '--config', config, '--log-level', 'trace']);
    t.after(() => weir.child.kill('SIGKILL'));
    await waitForOutput(
      weir,
      (out) => out.includes('HTTP listener ready') && out.includes('gateway started'),
      30_000,
    );
    const portOf = (msg: string) => {
      const line = weir
        .stdout()
        .split('\n')
        .find((l) => l.includes(msg))!;
      return (JSON.parse(line) as { port: number }).port;
    };
    const mqttPort = portOf('MQTT listener ready');
    const httpBase = `http://127.0.0.1:${portOf('HTTP listener ready')}`;

    // A wrong password, the right one with a publish, then the right one again (remembered).
    assert.equal(
      (
        await rawConnect({
          port: mqttPort,
          localAddress: '127.0.0.5',
          clientId: 'bus-s',
          clean: true,
          username: 'bus-s',
          password: WRONG,
        })
      ).returnCode,
      4,
    );
    const ok = await login(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'bus-s',
      username: 'bus-s',
      password: PASSWORD,
    });
    assert.ok(ok.client, String(ok.code));
    await publishSequence(ok.client, 'vehicle', 'bus-s', 3);
    await ok.client.endAsync();
    const again = await rawConnect({
      port: mqttPort,
      clientId: 'bus-s',
      clean: true,
      username: 'bus-s',
      password: PASSWORD,
    });
    assert.equal(again.returnCode, 0);

    // weir passwd changes the password; SIGHUP makes the running gateway read the file again.
    const NEW_PASSWORD = `${PASSWORD}-2`;
    assert.equal(passwd(`${NEW_PASSWORD}\n`, users, 'bus-s').code, 0);
    const loadedCount = () => weir.stdout().split('users file loaded').length - 1;
    assert.equal(loadedCount(), 1);
    weir.child.kill('SIGHUP');
    await waitForOutput(weir, () => loadedCount() === 2, 10_000);
    const creds = { port: mqttPort, clientId: 'bus-s', clean: true, username: 'bus-s' };
    assert.equal(
      (await rawConnect({ ...creds, localAddress: '127.0.0.6', password: PASSWORD })).returnCode,
      4,
    );
    assert.equal((await rawConnect({ ...creds, password: NEW_PASSWORD })).returnCode, 0);

    const status = await (await fetch(`${httpBase}/status`)).text();
    const metrics = await (await fetch(`${httpBase}/metrics`)).text();
    assert.match(metrics, /weir_source_auth_failures_total\{reason="bad_password"\} 2/);
    weir.child.kill('SIGTERM');
    assert.equal(await weir.exited, 0);

    const everything = `${weir.stdout()}${weir.stderr()}${status}${metrics}`;
    assert.ok(weir.stdout().split('\n').length > 10, 'trace logging produced output to search');
    for (const secret of [PASSWORD, WRONG, salt!, hash!]) {
      assert.ok(!everything.includes(secret), `found a secret in the output: ${secret.slice(0, 4)}…`);
    }
    // Nor in a form pino or JSON might give a Buffer.
    for (const secret of [PASSWORD, WRONG]) {
      assert.ok(!everything.includes(Buffer.from(secret).toString('base64')));
      assert.ok(!everything.includes(Buffer.from(secret).toString('hex')));
      assert.ok(!everything.includes([...Buffer.from(secret)].join(',')), 'as a JSON Buffer');
    }
  });
});
