// Logins and the publish ACL against real sockets and a real Kafka: who may connect, what a device
// may publish, and that failed logins slow down only their own source address.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { startGateway } from '../../gateway/main.ts';
import { consumeAll } from '../helpers/kafka.ts';
import { publishSequence, readingFor, topicFor } from '../support/devices.ts';
import { repoRoot, sampleConfig, startTestGateway } from '../support/gateway.ts';
import { closed, login, rawConnect, writeUsersFile } from '../support/security.ts';

const vehicleType = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;
const PASSWORDS = { 'bus-1': 'pw-of-bus-1', 'bus-2': 'pw-of-bus-2' };

async function gatewayWithUsers(t: Parameters<typeof startTestGateway>[0]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-sec-'));
  const usersFile = await writeUsersFile(dir, PASSWORDS);
  return startTestGateway(t, { auth: { usersFile } });
}

describe('device logins (auth.usersFile)', () => {
  test('no login → 5, wrong password or unknown device → 4; the right one is in, its messages reach Kafka', async (t) => {
    const { gateway, topics, url } = await gatewayWithUsers(t);
    const port = gateway.mqtt.port;
    // Each refusal from its own loopback address, so the penalty of one does not slow the next.
    const anonymous = await rawConnect({ port, localAddress: '127.0.0.2', clientId: 'bus-1', clean: true });
    assert.equal(anonymous.returnCode, 5);
    const wrong = await rawConnect({
      port,
      localAddress: '127.0.0.3',
      clientId: 'bus-1',
      clean: true,
      username: 'bus-1',
      password: 'pw-of-bus-2',
    });
    assert.equal(wrong.returnCode, 4);
    const unknown = await rawConnect({
      port,
      localAddress: '127.0.0.4',
      clientId: 'bus-9',
      clean: true,
      username: 'bus-9',
      password: 'pw-of-bus-1',
    });
    assert.equal(unknown.returnCode, 4);
    // mqtt.js sees the refusal as its CONNACK code too.
    const refused = await login(url, {
      clientId: 'bus-1',
      username: 'bus-1',
      password: 'nope',
    });
    assert.equal(refused.code, 4);

    const ok = await login(url, { clientId: 'bus-1', username: 'bus-1', password: PASSWORDS['bus-1'] });
    assert.ok(ok.client, `login failed: ${ok.code}`);
    t.after(() => ok.client?.endAsync());
    const sent = await publishSequence(ok.client, 'vehicle', 'bus-1', 20);
    const received = await consumeAll({ topics: [topics.vehicle], expected: 20, timeoutMs: 30_000 });
    assert.deepEqual(
      received.map((m) => (vehicleType.fromBuffer(m.value!) as { seq: number }).seq),
      sent.map((s) => s.payload['seq']),
    );
    assert.deepEqual(
      {
        no_credentials: gateway.metrics.authFailures.counts.no_credentials,
        bad_password: gateway.metrics.authFailures.counts.bad_password,
        unknown_device: gateway.metrics.authFailures.counts.unknown_device,
      },
      { no_credentials: 1, bad_password: 2, unknown_device: 1 },
    );
  });

  test("a device publishing into another device's topic is cut off, unacknowledged, and absent from Kafka", async (t) => {
    const { gateway, topics, url } = await gatewayWithUsers(t);
    const bus1 = await login(url, { clientId: 'bus-1', username: 'bus-1', password: PASSWORDS['bus-1'] });
    const bus2 = await login(url, { clientId: 'bus-2', username: 'bus-2', password: PASSWORDS['bus-2'] });
    assert.ok(bus1.client && bus2.client);
    t.after(() => bus2.client?.endAsync());
    await publishSequence(bus1.client, 'vehicle', 'bus-1', 10);

    // bus-1 claims to be bus-2: QoS 1, a marker seq.
    let acked = false;
    bus1.client.on('error', () => {});
    bus1.client
      .publishAsync(
        topicFor('vehicle', 'bus-2'),
        JSON.stringify(readingFor('vehicle', 999_999, Date.now())),
        {
          qos: 1,
        },
      )
      .then(
        () => (acked = true),
        () => {},
      );
    await closed(bus1.client);
    assert.equal(acked, false, 'no PUBACK for a refused publish');
    bus1.client.end(true);

    // Both keep publishing as themselves.
    const again = await login(url, { clientId: 'bus-1', username: 'bus-1', password: PASSWORDS['bus-1'] });
    assert.ok(again.client);
    t.after(() => again.client?.endAsync());
    await publishSequence(again.client, 'vehicle', 'bus-1', 10);
    await publishSequence(bus2.client, 'vehicle', 'bus-2', 5);

    // 25 expected; asking for one more waits out the timeout, so a late 26th would be seen.
    const received = await consumeAll({
      topics: [topics.vehicle, topics.deadLetter],
      expected: 26,
      timeoutMs: 8000,
    });
    const records = received.map((m) => ({
      key: m.key?.toString(),
      ...(vehicleType.fromBuffer(m.value!) as { seq: number; deviceId: string }),
    }));
    assert.equal(records.length, 25);
    assert.equal(records.filter((r) => r.deviceId === 'bus-1').length, 20);
    assert.equal(records.filter((r) => r.deviceId === 'bus-2').length, 5);
    assert.ok(!records.some((r) => r.seq === 999_999), 'the refused message is not in Kafka');
    assert.equal(gateway.metrics.dropped.counts.unauthorized, 1);
  });

  test('a zero-length client id needs a clean session (CONNACK 2), with logins and without', async (t) => {
    const { gateway } = await gatewayWithUsers(t);
    const creds = { username: 'bus-1', password: PASSWORDS['bus-1'] };
    const port = gateway.mqtt.port;
    assert.equal((await rawConnect({ port, clientId: '', clean: false, ...creds })).returnCode, 2);
    assert.equal((await rawConnect({ port, clientId: '', clean: true, ...creds })).returnCode, 0);
    // A device may not use another's client id (it would take over that session).
    assert.equal((await rawConnect({ port, clientId: 'bus-2', clean: true, ...creds })).returnCode, 2);
    assert.equal(gateway.metrics.authFailures.counts.client_id, 2);

    const open = await startTestGateway(t, { auth: 'none' });
    const openPort = open.gateway.mqtt.port;
    assert.equal((await rawConnect({ port: openPort, clientId: '', clean: false })).returnCode, 2);
    assert.equal((await rawConnect({ port: openPort, clientId: '', clean: true })).returnCode, 0);
    assert.equal((await rawConnect({ port: openPort, clientId: 'any', clean: false })).returnCode, 0);
  });

  test('failed logins slow down their source address, not the other devices', async (t) => {
    const { gateway, url } = await gatewayWithUsers(t);
    const port = gateway.mqtt.port;
    const guess = (n: number) =>
      rawConnect({
        port,
        localAddress: '127.0.0.9',
        clientId: 'bus-1',
        clean: true,
        username: 'bus-1',
        password: `guess-${n}`,
      });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await guess(i);
      assert.equal(r.returnCode, 4);
      times.push(r.ms);
    }
    // 250 ms, then 250 + 500, then 500 + 1000 (waiting before the check and before the answer).
    assert.ok(times[0]! >= 200 && times[1]! >= 700 && times[2]! >= 1400, times.join(', '));
    assert.ok(times[2]! > times[0]!);

    // While the fourth guess waits (about 3 s), a device on another address logs in at once.
    let fourthAnswered = false;
    const fourth = guess(3).then((r) => {
      fourthAnswered = true;
      return r;
    });
    const started = Date.now();
    const ok = await login(url, { clientId: 'bus-2', username: 'bus-2', password: PASSWORDS['bus-2'] });
    const loginMs = Date.now() - started;
    assert.ok(ok.client, String(ok.code));
    t.after(() => ok.client?.endAsync());
    assert.equal(fourthAnswered, false, `the device waited for the guesser (${loginMs} ms)`);
    assert.ok(loginMs < 2000, `login took ${loginMs} ms`);
    const r4 = await fourth;
    assert.equal(r4.returnCode, 4);
    assert.ok(r4.ms >= 2500, `fourth guess answered after ${r4.ms} ms`);
    assert.equal(gateway.metrics.authFailures.counts.bad_password, 4);
  });
});

test('auth: none on an address other machines can reach is warned about at start-up', async (t) => {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
  const open = sampleConfig({ auth: 'none', mqtt: { host: '0.0.0.0', port: 0 } });
  const g1 = await startGateway(open.loaded, { log });
  t.after(() => g1.stop());
  const warned = lines.filter((l) => l.includes('auth: none'));
  assert.equal(warned.length, 1, lines.join(''));
  assert.match(warned[0]!, /tcp 0\.0\.0\.0:0/);

  lines.length = 0;
  const local = sampleConfig({ auth: 'none', mqtt: { host: '127.0.0.1', port: 0 } });
  const g2 = await startGateway(local.loaded, { log });
  t.after(() => g2.stop());
  assert.deepEqual(
    lines.filter((l) => l.includes('auth: none')),
    [],
  );
});
