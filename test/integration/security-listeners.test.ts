// The TLS and WebSocket listeners with real clients: certificates made by openssl for this run,
// logins by client certificate (CN = device id) and by password, subscriptions by rule, and
// messages read back from the real Kafka.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { loadSchema } from '../../gateway/codec/avro.ts';
import { consumeAll } from '../helpers/kafka.ts';
import { makeTestPki } from '../support/certs.ts';
import { publishSequence } from '../support/devices.ts';
import { repoRoot, startTestGateway } from '../support/gateway.ts';
import { login, writeUsersFile } from '../support/security.ts';

const vehicleType = loadSchema(path.join(repoRoot, 'schemas/vehicle-gps.avsc')).type;
const pki = makeTestPki();

async function start(t: Parameters<typeof startTestGateway>[0], clientCertificates: 'optional' | 'required') {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-sec-'));
  const usersFile = await writeUsersFile(dir, { 'bus-pw': 'pw-of-bus-pw', 'bus-ws': 'pw-of-bus-ws' });
  const started = await startTestGateway(t, {
    mqtt: {
      host: '127.0.0.1',
      port: 0,
      tls: {
        enabled: true,
        host: '127.0.0.1',
        port: 0,
        certFile: pki.certFile,
        keyFile: pki.keyFile,
        caFile: pki.caFile,
        clientCertificates,
      },
      websocket: { enabled: true, host: '127.0.0.1', port: 0 },
    },
    auth: { usersFile, clientCertificates: true },
    acl: { subscribe: [{ pattern: 'cmd/{deviceId}/#' }] },
  });
  const port = (transport: string) => started.gateway.listeners.find((l) => l.transport === transport)!.port;
  return {
    ...started,
    tlsUrl: `mqtts://127.0.0.1:${port('tls')}`,
    wsUrl: `ws://127.0.0.1:${port('websocket')}/mqtt`,
  };
}

const seqs = (messages: Awaited<ReturnType<typeof consumeAll>>, deviceId: string) =>
  messages
    .map((m) => vehicleType.fromBuffer(m.value!) as { deviceId: string; seq: number })
    .filter((r) => r.deviceId === deviceId)
    .map((r) => r.seq);

describe('TLS and WebSocket listeners', () => {
  test('TLS (client certificates optional): a certificate logs in as its CN, a password without one, nothing else does', async (t) => {
    const { gateway, topics, tlsUrl, wsUrl } = await start(t, 'optional');
    const dev = pki.client('bus-cert');
    const byCert = await login(tlsUrl, { clientId: 'bus-cert', ca: pki.ca, cert: dev.cert, key: dev.key });
    assert.ok(byCert.client, `certificate login: ${byCert.code}`);
    t.after(() => byCert.client?.endAsync());
    const byPassword = await login(tlsUrl, {
      clientId: 'bus-pw',
      ca: pki.ca,
      username: 'bus-pw',
      password: 'pw-of-bus-pw',
    });
    assert.ok(byPassword.client, `password login over TLS: ${byPassword.code}`);
    t.after(() => byPassword.client?.endAsync());
    const byWebSocket = await login(wsUrl, {
      clientId: 'bus-ws',
      username: 'bus-ws',
      password: 'pw-of-bus-ws',
    });
    assert.ok(byWebSocket.client, `WebSocket login: ${byWebSocket.code}`);
    t.after(() => byWebSocket.client?.endAsync());

    // Refused: no certificate and no password; a certificate from an unknown CA; a certificate
    // whose CN is not the username sent along.
    assert.equal((await login(tlsUrl, { clientId: 'bus-cert', ca: pki.ca })).code, 5);
    const stranger = pki.stranger('bus-cert');
    assert.equal(
      (await login(tlsUrl, { clientId: 'bus-cert', ca: pki.ca, cert: stranger.cert, key: stranger.key }))
        .code,
      5,
    );
    assert.equal(
      (
        await login(tlsUrl, {
          clientId: 'bus-cert',
          ca: pki.ca,
          cert: dev.cert,
          key: dev.key,
          username: 'bus-pw',
        })
      ).code,
      5,
    );
    assert.equal(gateway.metrics.authFailures.counts.no_credentials, 1);
    assert.equal(gateway.metrics.authFailures.counts.bad_certificate, 1);
    assert.equal(gateway.metrics.authFailures.counts.identity_mismatch, 1);

    await publishSequence(byCert.client, 'vehicle', 'bus-cert', 15);
    await publishSequence(byWebSocket.client, 'vehicle', 'bus-ws', 15);
    const received = await consumeAll({ topics: [topics.vehicle], expected: 30, timeoutMs: 30_000 });
    const expected = Array.from({ length: 15 }, (_, i) => i + 1);
    assert.deepEqual(seqs(received, 'bus-cert'), expected, 'over TLS, identity from the certificate');
    assert.deepEqual(seqs(received, 'bus-ws'), expected, 'over WebSocket');

    // Subscriptions: only what a rule covers, with {deviceId} as the own id.
    // mqtt.js rejects when any filter is refused; the SUBACK is on the error.
    const suback = await byCert.client.subscribeAsync(['cmd/bus-cert/#', 'cmd/bus-pw/#', '#']).then(
      () => assert.fail('a refused filter must fail the SUBSCRIBE'),
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    assert.deepEqual(suback, [0, 128, 128]);
    assert.ok(byCert.client.connected, 'a refused subscription keeps the connection');
  });

  test('TLS (client certificates required): no handshake without a certificate from the CA', async (t) => {
    const { topics, tlsUrl } = await start(t, 'required');
    // TLS 1.3: the server's verdict on the client certificate comes after the client's side of
    // the handshake is done, as an alert that closes the connection. 'open': still open after 3 s.
    const handshake = (opts: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const url = new URL(tlsUrl);
        const socket = tls.connect({ host: '127.0.0.1', port: Number(url.port), ca: pki.ca, ...opts });
        const timer = setTimeout(() => {
          resolve('open');
          socket.destroy();
        }, 3000);
        socket.on('data', () => {});
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve('closed');
        });
      });
    assert.notEqual(await handshake({}), 'open');
    const stranger = pki.stranger('bus-x');
    assert.notEqual(await handshake({ cert: stranger.cert, key: stranger.key }), 'open');

    const dev = pki.client('bus-req');
    const c = await login(tlsUrl, { clientId: 'bus-req', ca: pki.ca, cert: dev.cert, key: dev.key });
    assert.ok(c.client, String(c.code));
    t.after(() => c.client?.endAsync());
    await publishSequence(c.client, 'vehicle', 'bus-req', 5);
    const received = await consumeAll({ topics: [topics.vehicle], expected: 5, timeoutMs: 30_000 });
    assert.deepEqual(seqs(received, 'bus-req'), [1, 2, 3, 4, 5]);
  });

  test('a WebSocket device gets the same backpressure: weir stops reading when its buffer is full', async (t) => {
    // Kafka unreachable, no spool, 64 KiB of memory buffer: the intake stops settling after a few
    // hundred records, and from then on nothing more may be read from the device.
    const { gateway } = await startTestGateway(t, {
      mqtt: { host: '127.0.0.1', port: 0, websocket: { enabled: true, host: '127.0.0.1', port: 0 } },
      auth: 'none',
      kafka: { brokers: ['127.0.0.1:1'], connectionTimeoutMs: 500 },
      spool: { enabled: false },
      batch: { maxBufferedBytes: 64 * 1024 },
      shutdown: { drainTimeoutMs: 100 },
    });
    const wsPort = gateway.listeners.find((l) => l.transport === 'websocket')!.port;
    const c = await login(`ws://127.0.0.1:${wsPort}/mqtt`, { clientId: 'bus-bp' });
    assert.ok(c.client, String(c.code));
    t.after(() => c.client?.end(true));
    c.client.on('error', () => {});
    // One message every 2 ms for 4 s, each its own WebSocket message: new data keeps arriving
    // while the first publishes wait — the case in which aedes alone would go on reading.
    const received = () => [...gateway.metrics.routes.values()].reduce((n, r) => n + r.messages[1], 0);
    const counts: number[] = [];
    const started = Date.now();
    let seq = 0;
    while (Date.now() - started < 4000 && seq < 3000) {
      seq++;
      c.client.publish(
        'fleet/buses/vehicles/bus-bp/position',
        JSON.stringify({
          seq,
          ts: Date.now(),
          latDeg: 1,
          lonDeg: 2,
          speedKmh: 3,
          headingDeg: 4,
          odometerKm: 5,
        }),
        { qos: 1 },
      );
      if (seq % 250 === 0) counts.push(received());
      await new Promise((r) => setTimeout(r, 2));
    }
    const last = counts.slice(-3);
    assert.ok(last[0]! > 0, 'the device was read at first');
    assert.ok(last[0]! < seq, `read ${last[0]} of ${seq}`);
    assert.deepEqual(
      last,
      [last[0], last[0], last[0]],
      `nothing more read while the buffer stays full: ${counts.join(' ')}`,
    );
  });
});
