// The device front end's promises, driven by raw MQTT packets over real sockets so that each test
// controls exactly what the device sends: acknowledgements only after the intake settles, none on
// a settle error, reads held while the intake holds, QoS 2 exactly once across retransmissions and
// reconnects, keep-alive, packet size, malformed packets closing only their own connection, wills,
// session expiry and shutdown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { RawClient, serveFrontEnd, sleep, until } from '../support/front-end.ts';

const publish = (id: number, o: Partial<IPublishPacket> = {}): IPublishPacket => ({
  cmd: 'publish',
  topic: 'plant/p-1/telemetry',
  payload: Buffer.from(`{"n":${id}}`),
  qos: 1,
  messageId: id,
  dup: false,
  retain: false,
  ...o,
});

const reasonOf = (p: Packet) => (p as { reasonCode?: number }).reasonCode ?? 0;

for (const version of [4, 5] as const) {
  const v = version === 5 ? 'v5' : '3.1.1';

  test(`${v}: PUBACK only after the intake settles; in the order settled`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    intake.mode = 'hold';
    const device = await RawClient.open(t, port, version);
    await device.connect('acks');
    device.send(publish(1), publish(2), publish(3));
    await until(() => intake.held.length === 3, 'three held messages');
    await sleep(200);
    assert.deepEqual(device.take('puback'), [], 'no PUBACK while the intake holds');
    intake.held.splice(1, 1)[0]!(null);
    assert.equal((await device.next('puback')).messageId, 2);
    intake.release();
    await until(() => device.received.filter((p) => p.cmd === 'puback').length === 2, 'the other PUBACKs');
    assert.deepEqual(
      device.take('puback').map((p) => p.messageId),
      [1, 3],
    );
  });

  test(`${v}: a settle error gets no acknowledgement and closes the connection`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    intake.mode = new Error('spool write failed');
    const device = await RawClient.open(t, port, version);
    await device.connect('fails');
    device.send(publish(1));
    assert.equal(await device.closesWithin(3000), true);
    assert.deepEqual(device.take('puback'), []);
    if (version === 5)
      assert.equal(reasonOf(device.take('disconnect')[0]!), 0x89, 'v5: DISCONNECT server busy');
  });

  test(`${v}: nothing more is read from a device while the intake holds what it sent`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    intake.mode = 'hold';
    const device = await RawClient.open(t, port, version);
    await device.connect('flood');
    // 2,000 publishes of ~60 bytes in one go: far more than one read of the socket.
    const burst = Array.from({ length: 2000 }, (_, i) => publish((i % 60_000) + 1));
    device.send(...burst);
    await until(() => intake.held.length > 0, 'the first messages');
    await sleep(300);
    const firstRead = intake.messages.length;
    assert.ok(firstRead < 2000, `only the first read is taken while it is held (${firstRead})`);
    let rounds = 0;
    while (intake.messages.length < 2000 && rounds++ < 1000) {
      const before = intake.messages.length;
      intake.release();
      await until(() => intake.messages.length > before || intake.messages.length === 2000, 'the next read');
    }
    intake.release();
    await until(() => device.received.filter((p) => p.cmd === 'puback').length === 2000, 'every PUBACK');
    assert.equal(intake.messages.length, 2000);
  });

  test(`${v}: QoS 2 is taken once across retransmissions and a reconnect of a persistent session`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    const persistent =
      version === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
    const first = await RawClient.open(t, port, version);
    const connack = await first.connect('q2', persistent);
    assert.equal((connack as { sessionPresent: boolean }).sessionPresent, false);
    intake.mode = 'hold';
    first.send(publish(7, { qos: 2 }));
    await until(() => intake.held.length === 1, 'the first copy');
    first.send(publish(7, { qos: 2, dup: true })); // retransmitted while the first copy is settled
    await sleep(100);
    intake.release();
    const recs = [await first.next('pubrec'), await first.next('pubrec')];
    assert.deepEqual(
      recs.map((p) => p.messageId),
      [7, 7],
    );
    // The connection drops before the device sends PUBREL; it reconnects and sends the message again.
    first.socket.destroy();
    intake.mode = 'settle';
    const second = await RawClient.open(t, port, version);
    const again = await second.connect('q2', persistent);
    assert.equal((again as { sessionPresent: boolean }).sessionPresent, true);
    second.send(publish(7, { qos: 2, dup: true }));
    assert.equal((await second.next('pubrec')).messageId, 7);
    second.send({ cmd: 'pubrel', messageId: 7 });
    const comp = await second.next('pubcomp');
    assert.equal(comp.messageId, 7);
    assert.equal(reasonOf(comp), 0);
    assert.equal(intake.messages.length, 1, 'taken once');
    // Released: the id is free again, and a new message with it is a new message.
    second.send(publish(7, { qos: 2, payload: Buffer.from('next') }));
    await second.next('pubrec');
    assert.equal(intake.messages.length, 2);
    // A clean start forgets the session.
    second.socket.destroy();
    const third = await RawClient.open(t, port, version);
    assert.equal(((await third.connect('q2')) as { sessionPresent: boolean }).sessionPresent, false);
  });

  test(`${v}: a keep-alive of 1 s without packets closes the connection after 1.5 s`, async (t) => {
    const { port } = await serveFrontEnd(t);
    const device = await RawClient.open(t, port, version);
    const started = Date.now();
    await device.connect('sleepy', { keepalive: 1 });
    assert.equal(await device.closesWithin(4000), true);
    const after = Date.now() - started;
    assert.ok(after >= 1400, `closed after ${after} ms`);
    if (version === 5) assert.equal(reasonOf(device.take('disconnect')[0]!), 0x8d);
  });

  test(`${v}: PINGREQ keeps a connection alive`, async (t) => {
    const { port } = await serveFrontEnd(t);
    const device = await RawClient.open(t, port, version);
    await device.connect('pinger', { keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      await sleep(600);
      device.send({ cmd: 'pingreq' });
      await device.next('pingresp');
    }
    assert.equal(device.isClosed, false);
  });

  test(`${v}: a malformed packet closes only its own connection`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    const good = await RawClient.open(t, port, version);
    await good.connect('good');
    const bad = await RawClient.open(t, port, version);
    await bad.connect('bad');
    // PUBLISH with both QoS bits set, then a PUBREL with wrong flags.
    bad.send(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]));
    assert.equal(await bad.closesWithin(3000), true);
    const other = await RawClient.open(t, port, version);
    await other.connect('other');
    other.send(Buffer.from([0x60, 0x02, 0x00, 0x01])); // PUBREL must have flags 0b0010
    assert.equal(await other.closesWithin(3000), true);
    good.send(publish(1));
    assert.equal((await good.next('puback')).messageId, 1);
    assert.equal(intake.messages.length, 1);
  });

  test(`${v}: SUBSCRIBE or UNSUBSCRIBE without a filter closes only its own connection`, async (t) => {
    const { intake, port } = await serveFrontEnd(t, { hooks: { authorizeSubscribe: () => true } });
    const good = await RawClient.open(t, port, version);
    await good.connect('good');
    // The fixed header and packet id of each, with no topic filter (v5: a property length 0).
    for (const type of [0x82, 0xa2]) {
      const bad = await RawClient.open(t, port, version);
      await bad.connect('bad');
      bad.send(Buffer.from(version === 5 ? [type, 0x03, 0x00, 0x01, 0x00] : [type, 0x02, 0x00, 0x01]));
      assert.equal(await bad.closesWithin(3000), true);
    }
    good.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a/#/b', qos: 0 }] });
    assert.deepEqual(((await good.next('suback')) as { granted: number[] }).granted, [
      version === 5 ? 0x8f : 0x80,
    ]);
    good.send(publish(1));
    assert.equal((await good.next('puback')).messageId, 1);
    assert.equal(intake.messages.length, 1);
  });

  test(`${v}: a packet over the size limit is refused from its length, before its body arrives`, async (t) => {
    const { intake, port } = await serveFrontEnd(t, { maxPacketBytes: 1024 });
    const device = await RawClient.open(t, port, version);
    await device.connect('big');
    // The fixed header of a 200 MB PUBLISH, and no body.
    device.send(Buffer.from([0x32, 0x80, 0x80, 0x80, 0x64]));
    assert.equal(await device.closesWithin(3000), true);
    if (version === 5) assert.equal(reasonOf(device.take('disconnect')[0]!), 0x95);
    assert.equal(intake.messages.length, 0);
  });

  test(`${v}: a will is published into the intake when the connection drops, not after DISCONNECT`, async (t) => {
    const { intake, port } = await serveFrontEnd(t);
    const will = { topic: 'status/w-1', payload: Buffer.from('offline'), qos: 1 as const, retain: false };
    const dropped = await RawClient.open(t, port, version);
    await dropped.connect('w-1', { will });
    dropped.socket.destroy();
    await until(() => intake.messages.length === 1, 'the will');
    const m = intake.messages[0]!;
    assert.deepEqual(
      [m.topic, m.payload.toString(), m.qos, m.clientId, m.will],
      ['status/w-1', 'offline', 1, 'w-1', true],
    );
    const polite = await RawClient.open(t, port, version);
    await polite.connect('w-2', { will: { ...will, topic: 'status/w-2' } });
    polite.send({ cmd: 'disconnect' });
    await polite.closed;
    await sleep(200);
    assert.equal(intake.messages.length, 1);
  });
}

test('v5: a will with a delay is not published when the device is back in time', async (t) => {
  const { intake, port } = await serveFrontEnd(t);
  const will = {
    topic: 'status/d-1',
    payload: Buffer.from('offline'),
    qos: 0 as const,
    retain: false,
    properties: { willDelayInterval: 1 },
  };
  const session = { clean: false, properties: { sessionExpiryInterval: 60 }, will };
  const first = await RawClient.open(t, port, 5);
  await first.connect('d-1', session);
  first.socket.destroy();
  await sleep(300);
  const second = await RawClient.open(t, port, 5);
  await second.connect('d-1', session);
  await sleep(1200);
  assert.equal(intake.messages.length, 0, 'back within the delay: no will');
  second.socket.destroy();
  await until(() => intake.messages.length === 1, 'the will after its delay', 3000);
});

test('v5: a session expires after its Session Expiry Interval', async (t) => {
  const { port } = await serveFrontEnd(t);
  const session = { clean: false, properties: { sessionExpiryInterval: 1 } };
  const a = await RawClient.open(t, port, 5);
  await a.connect('brief', session);
  a.socket.destroy();
  await sleep(200);
  const b = await RawClient.open(t, port, 5);
  assert.equal(((await b.connect('brief', session)) as { sessionPresent: boolean }).sessionPresent, true);
  b.socket.destroy();
  await sleep(1300);
  const c = await RawClient.open(t, port, 5);
  assert.equal(((await c.connect('brief', session)) as { sessionPresent: boolean }).sessionPresent, false);
});

test('v5: a session expiry above the maximum is capped, and CONNACK says so', async (t) => {
  const { port } = await serveFrontEnd(t, { maxSessionExpirySeconds: 600 });
  const device = await RawClient.open(t, port, 5);
  const connack = await device.connect('long', {
    clean: false,
    properties: { sessionExpiryInterval: 86_400 },
  });
  assert.equal(
    (connack as { properties?: { sessionExpiryInterval?: number } }).properties?.sessionExpiryInterval,
    600,
  );
});

test('v5: QoS 2 ids awaiting PUBREL beyond Receive Maximum get PUBREC 0x97', async (t) => {
  const { intake, port } = await serveFrontEnd(t, { receiveMaximum: 3 });
  const device = await RawClient.open(t, port, 5);
  await device.connect('quota');
  device.send(...[1, 2, 3, 4].map((id) => publish(id, { qos: 2 })));
  await until(() => device.received.filter((p) => p.cmd === 'pubrec').length === 4, 'four PUBRECs');
  assert.deepEqual(
    device.take('pubrec').map((p) => [p.messageId, reasonOf(p)]),
    [
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 0x97],
    ],
  );
  assert.equal(intake.messages.length, 3);
  device.send({ cmd: 'pubrel', messageId: 1 });
  await device.next('pubcomp');
  device.send(publish(5, { qos: 2 }));
  assert.equal(reasonOf(await device.next('pubrec')), 0);
});

test('v5: an alias out of range closes the connection with DISCONNECT 0x94', async (t) => {
  const { port } = await serveFrontEnd(t, { topicAliasMaximum: 4 });
  const device = await RawClient.open(t, port, 5);
  await device.connect('aliases');
  device.send(publish(1, { properties: { topicAlias: 5 } }));
  assert.equal(await device.closesWithin(3000), true);
  assert.equal(reasonOf(device.take('disconnect')[0]!), 0x94);
});

test('PUBLISH before CONNECT closes the connection; no CONNECT within the timeout closes it too', async (t) => {
  const { intake, port } = await serveFrontEnd(t, { connectTimeoutMs: 500 });
  const early = await RawClient.open(t, port, 4);
  early.send(publish(1));
  assert.equal(await early.closesWithin(3000), true);
  const silent = await RawClient.open(t, port, 4);
  assert.equal(await silent.closesWithin(3000), true);
  assert.equal(intake.messages.length, 0);
});

test('packets after CONNECT in the same write wait for the login, then are taken in order', async (t) => {
  let letIn: () => void = () => {};
  const { intake, port } = await serveFrontEnd(t, {
    hooks: {
      authenticate: (login) =>
        new Promise((resolve) => {
          letIn = () => resolve({ ok: true, identity: login.username ?? null });
        }),
    },
  });
  const device = await RawClient.open(t, port, 5);
  device.send(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      clientId: 'slow-login',
      keepalive: 60,
      username: 'm-1',
    },
    publish(1),
    publish(2),
  );
  await sleep(200);
  assert.equal(intake.messages.length, 0);
  letIn();
  await device.next('connack');
  await until(() => intake.messages.length === 2, 'both messages');
  assert.deepEqual(
    intake.messages.map((m) => [m.payload.toString(), m.identity]),
    [
      ['{"n":1}', 'm-1'],
      ['{"n":2}', 'm-1'],
    ],
  );
});

test('a refused login: CONNACK with the reason of each version, then closed', async (t) => {
  const { intake, port } = await serveFrontEnd(t, {
    hooks: { authenticate: async () => ({ ok: false, reason: 'bad_credentials' }) },
  });
  for (const [version, code] of [
    [4, 4],
    [5, 0x86],
  ] as const) {
    const device = await RawClient.open(t, port, version);
    const connack = await device.connect('intruder');
    assert.equal(version === 5 ? reasonOf(connack) : (connack as { returnCode?: number }).returnCode, code);
    device.send(publish(1));
    assert.equal(await device.closesWithin(3000), true);
  }
  assert.equal(intake.messages.length, 0);
});

test('close(): v5 devices are told the server is shutting down (0x8B); no will is published', async (t) => {
  const { frontEnd, intake, port } = await serveFrontEnd(t);
  const device = await RawClient.open(t, port, 5);
  await device.connect('stay', {
    will: { topic: 'status/stay', payload: Buffer.from('gone'), qos: 0, retain: false },
  });
  const classic = await RawClient.open(t, port, 4);
  await classic.connect('classic');
  await frontEnd.close();
  assert.equal(await device.closesWithin(3000), true);
  assert.equal(await classic.closesWithin(3000), true);
  assert.equal(reasonOf(device.take('disconnect')[0]!), 0x8b);
  assert.equal(intake.messages.length, 0);
});
