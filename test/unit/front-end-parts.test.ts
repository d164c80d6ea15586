// The pure parts of the device front end: the packet size gate across reads, the session store
// (clean start, expiry, takeover, the bound on kept sessions), topic aliases, topic name rules and
// what a CONNECT decides (session expiry, will, CONNACK).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { connackAccepted, sessionExpiry, willOf } from '../../gateway/source/front-end/connect.ts';
import { TopicAliases } from '../../gateway/source/front-end/message.ts';
import { REASON, validTopicFilter, validTopicName } from '../../gateway/source/front-end/protocol.ts';
import { SessionStore } from '../../gateway/source/front-end/sessions.ts';
import { PacketSizeGate } from '../../gateway/source/front-end/size-gate.ts';
import { filterMatches, publishPacket, Subscriptions } from '../../gateway/source/front-end/subscribers.ts';
import { resolveOptions } from '../../gateway/source/front-end/types.ts';

const publish = (payloadBytes: number) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 't',
    payload: Buffer.alloc(payloadBytes),
    qos: 1,
    messageId: 1,
    dup: false,
    retain: false,
  });

test('size gate: lengths within the limit pass whatever the read boundaries', () => {
  const stream = Buffer.concat([publish(10), publish(200), publish(1000), publish(0)]);
  for (let cut = 1; cut < stream.length; cut++) {
    const gate = new PacketSizeGate(1024);
    assert.equal(gate.scan(stream.subarray(0, cut)), -1);
    assert.equal(gate.scan(stream.subarray(cut)), -1);
  }
  // byte by byte
  const gate = new PacketSizeGate(1024);
  for (let i = 0; i < stream.length; i++) assert.equal(gate.scan(stream.subarray(i, i + 1)), -1);
});

test('size gate: a packet over the limit is reported from its length bytes, even split across reads', () => {
  const big = publish(5000);
  const gate = new PacketSizeGate(1024);
  assert.equal(gate.scan(publish(10)), -1);
  assert.equal(gate.scan(big.subarray(0, 2)), -1); // type byte and the first length byte
  assert.equal(gate.scan(big.subarray(2, 3)), 5000 + 2 + 1 + 2);
  assert.equal(new PacketSizeGate(100).scan(Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f])), 268_435_455);
});

test('sessions: a clean start drops the session; otherwise it continues until it expires', () => {
  let now = 1000;
  const store = new SessionStore(10, () => now);
  const a = {};
  const first = store.open('dev', false, a);
  assert.equal(first.present, false);
  first.session.unreleased.add(7);
  store.close(first.session, a, 60);
  const b = {};
  const again = store.open('dev', false, b);
  assert.equal(again.present, true);
  assert.ok(again.session.unreleased.has(7));
  store.close(again.session, b, 60);
  now += 61_000;
  assert.equal(store.open('dev', false, {}).present, false, 'expired');
  const c = {};
  const kept = store.open('kept', false, c);
  store.close(kept.session, c, 60);
  const fresh = store.open('kept', true, {});
  assert.equal(fresh.present, false);
  assert.equal(fresh.session.unreleased.size, 0);
});

test('sessions: expiry 0 ends a session with its connection; a taken-over connection cannot end it', () => {
  const store = new SessionStore(10);
  const a = {};
  const s = store.open('dev', true, a);
  store.close(s.session, a, 0);
  assert.equal(store.open('dev', false, {}).present, false);

  const old = {};
  const oldSession = store.open('twin', false, old).session;
  const replacement = {};
  const took = store.open('twin', false, replacement);
  assert.equal(took.present, true);
  assert.equal(took.session, oldSession);
  store.close(oldSession, old, 0); // the old connection closes after the takeover
  assert.equal(oldSession.owner, replacement);
  store.close(oldSession, replacement, 60);
  assert.equal(store.open('twin', false, {}).present, true);
});

test('sessions: a takeover with a clean start: the old connection closing keeps nothing', () => {
  const store = new SessionStore(10);
  const old = {};
  const oldSession = store.open('dev', false, old).session;
  oldSession.unreleased.add(3);
  const fresh = {};
  const took = store.open('dev', true, fresh);
  assert.equal(took.present, false);
  store.close(took.session, fresh, 0);
  store.close(oldSession, old, 60); // the taken-over connection closes last
  assert.equal(store.open('dev', false, {}).present, false);
});

test('sessions: at most maxSessions are kept for absent devices, least recently used dropped', () => {
  const store = new SessionStore(2);
  for (const id of ['a', 'b', 'c']) {
    const owner = {};
    store.close(store.open(id, false, owner).session, owner, 60);
  }
  assert.equal(store.detachedCount, 2);
  assert.equal(store.open('a', false, {}).present, false);
  assert.equal(store.open('c', false, {}).present, true);
});

test('topic aliases: defined by a topic, used with an empty one; out of range or unknown is refused', () => {
  const aliases = new TopicAliases(4);
  assert.equal(aliases.resolve('a/b', 2), 'a/b');
  assert.equal(aliases.resolve('', 2), 'a/b');
  assert.equal(aliases.resolve('c/d', 2), 'c/d');
  assert.equal(aliases.resolve('', 2), 'c/d');
  assert.equal(aliases.resolve('', 3), REASON.protocolError);
  assert.equal(aliases.resolve('x', 0), REASON.topicAliasInvalid);
  assert.equal(aliases.resolve('x', 5), REASON.topicAliasInvalid);
});

test('topic names: no wildcards, no NUL, not empty', () => {
  assert.equal(validTopicName('factory/line-1/m-7/telemetry'), true);
  assert.equal(validTopicName('/'), true);
  for (const bad of ['', 'a/+/b', 'a/#', 'a\u0000b']) assert.equal(validTopicName(bad), false, bad);
});

const connect = (o: Partial<IConnectPacket>): IConnectPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 5,
  clientId: 'dev',
  clean: true,
  keepalive: 60,
  ...o,
});

test('CONNECT: session expiry asked and granted, per version', () => {
  assert.deepEqual(sessionExpiry(connect({}), 3600), { asked: 0, granted: 0 });
  assert.deepEqual(sessionExpiry(connect({ properties: { sessionExpiryInterval: 120 } }), 3600), {
    asked: 120,
    granted: 120,
  });
  assert.deepEqual(sessionExpiry(connect({ properties: { sessionExpiryInterval: 0xffffffff } }), 3600), {
    asked: 0xffffffff,
    granted: 3600,
  });
  assert.deepEqual(sessionExpiry(connect({ protocolVersion: 4, clean: false }), 3600), {
    asked: 3600,
    granted: 3600,
  });
  assert.deepEqual(sessionExpiry(connect({ protocolVersion: 4, clean: true }), 3600), {
    asked: 0,
    granted: 0,
  });
});

test('CONNECT: the will becomes a message of the device; its delay is bounded by the session expiry', () => {
  const packet = connect({
    will: {
      topic: 'status/dev',
      payload: Buffer.from('gone'),
      qos: 1,
      retain: true,
      properties: { willDelayInterval: 300, contentType: 'text/plain', userProperties: { a: '1' } },
    },
  });
  const will = willOf(packet, { clientId: 'dev', identity: 'dev' }, 60)!;
  assert.equal(will.delayMs, 60_000);
  assert.deepEqual(
    [
      will.message.topic,
      will.message.payload.toString(),
      will.message.qos,
      will.message.identity,
      will.message.will,
    ],
    ['status/dev', 'gone', 1, 'dev', true],
  );
  assert.equal(will.message.contentType, 'text/plain');
  assert.equal(willOf(connect({}), { clientId: 'dev', identity: null }, 0), null);
});

test('CONNACK: v5 carries the limits (and only what applies); 3.1.1 is the plain four bytes', () => {
  const opts = resolveOptions({
    intake: { accept: () => {} },
    log: undefined as never,
    maxPacketBytes: 1000,
    connectTimeoutMs: 1000,
    receiveMaximum: 20,
    topicAliasMaximum: 5,
  });
  const parse = (bytes: Buffer, protocolVersion: number) => {
    const parser = mqttPacket.parser({ protocolVersion });
    let out: Packet | null = null;
    parser.on('packet', (p: Packet) => {
      out = p;
    });
    parser.parse(bytes);
    return out as unknown as { sessionPresent: boolean; properties?: Record<string, unknown> };
  };
  const v5 = parse(
    connackAccepted(5, opts, {
      sessionPresent: true,
      assignedClientId: 'weir-x',
      expiry: { asked: 10, granted: 10 },
    }),
    5,
  );
  assert.equal(v5.sessionPresent, true);
  assert.deepEqual(
    { ...v5.properties },
    {
      receiveMaximum: 20,
      maximumPacketSize: 1005,
      topicAliasMaximum: 5,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
      assignedClientIdentifier: 'weir-x',
    },
  );
  const v311 = connackAccepted(4, opts, {
    sessionPresent: false,
    assignedClientId: undefined,
    expiry: { asked: 0, granted: 0 },
  });
  assert.deepEqual([...v311], [0x20, 2, 0, 0]);
});

test('subscriptions: + is one level, # any number including none, $ topics only by name', () => {
  const m = (filter: string, topic: string) => filterMatches(filter.split('/'), topic.split('/'));
  assert.equal(m('cmd/+/reboot', 'cmd/bus-1/reboot'), true);
  assert.equal(m('cmd/+/reboot', 'cmd/bus-1/x/reboot'), false);
  assert.equal(m('cmd/#', 'cmd'), true);
  assert.equal(m('cmd/#', 'cmd/a/b'), true);
  assert.equal(m('cmd', 'cmd/a'), false);
  assert.equal(m('#', '$SYS/x'), false);
  assert.equal(m('$SYS/#', '$SYS/x'), true);
});

test('deliveries: QoS 0 PUBLISH of either version, once per subscriber; a full one is skipped', () => {
  for (const version of [4, 5] as const) {
    const bytes = publishPacket('a/b', Buffer.alloc(300, 7), version === 5);
    const parser = mqttPacket.parser({ protocolVersion: version });
    const got: Packet[] = [];
    parser.on('packet', (p: Packet) => got.push(p));
    parser.parse(bytes);
    assert.equal(got.length, 1);
    const p = got[0] as { cmd: string; topic: string; qos: number; payload: Buffer };
    assert.deepEqual([p.cmd, p.topic, p.qos, p.payload.length], ['publish', 'a/b', 0, 300]);
  }
  const subs = new Subscriptions();
  assert.equal(subs.empty, true);
  const got: Buffer[] = [];
  const reading = { version: 4 as const, deliver: (b: Buffer) => got.push(b) > 0 };
  const full = { version: 5 as const, deliver: () => false };
  subs.add(reading, 'a/#');
  subs.add(reading, 'a/+');
  subs.add(full, '#');
  assert.equal(subs.deliver('a/b', Buffer.from('x')), 1);
  assert.equal(got.length, 1, 'two matching filters, one delivery');
  subs.remove(reading, 'a/#');
  subs.remove(reading, 'a/+');
  subs.remove(full, '#');
  assert.equal(subs.empty, true);
});

test('topic filters: # only as the whole last level, + only as a whole level, not empty', () => {
  for (const ok of ['#', '+', 'a/+/c', 'a/#', '+/+', '/a', 'a//b'])
    assert.equal(validTopicFilter(ok), true, ok);
  for (const bad of ['', 'a/#/b', 'a#', 'a/b+', '#/a', 'a\0b'])
    assert.equal(validTopicFilter(bad), false, bad);
});
