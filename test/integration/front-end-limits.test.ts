// The device front end's limits and deliveries, driven by raw MQTT packets of either version over
// real sockets: what a 3.1.1 device and what an MQTT 5 device is told, and what is reported for
// the metrics. (test/integration/limits.test.ts runs the same limits through the whole gateway.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { FrontEndEvents } from '../../gateway/source/front-end/types.ts';
import { RawClient, serveFrontEnd, sleep } from '../support/front-end.ts';

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

/** Events as a list of strings: `refused:keepalive`, `dropped:topic_too_long`, … */
function recorder(): { events: FrontEndEvents; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    events: {
      refused: (r) => seen.push(`refused:${r}`),
      dropped: (r) => seen.push(`dropped:${r}`),
      rateLimited: (a) => seen.push(`rate:${a}`),
      subscriberSkipped: () => seen.push('skipped'),
    },
  };
}

test('maxConnections: a stream beyond it is closed before anything is read', async (t) => {
  const { events, seen } = recorder();
  const { port } = await serveFrontEnd(t, { limits: { maxConnections: 1 }, events });
  const first = await RawClient.open(t, port, 4);
  await first.connect('first');
  const second = await RawClient.open(t, port, 5);
  assert.equal(await second.closesWithin(2000), true);
  assert.deepEqual(seen, ['refused:max_connections']);
  first.socket.destroy();
  await sleep(100);
  const third = await RawClient.open(t, port, 5);
  assert.equal(reasonOf(await third.connect('third')), 0, 'a slot freed is a slot again');
});

test('keepalive bounds: 3.1.1 closed without CONNACK; v5 accepted and told the nearest allowed value', async (t) => {
  const { events, seen } = recorder();
  const { port } = await serveFrontEnd(t, {
    limits: { minKeepaliveSeconds: 5, maxKeepaliveSeconds: 120 },
    events,
  });
  const old = await RawClient.open(t, port, 4);
  await assert.rejects(old.connect('old', { keepalive: 300 }));
  assert.equal(old.isClosed, true);
  assert.deepEqual(seen, ['refused:keepalive']);
  for (const [asked, told] of [
    [300, 120],
    [0, 5],
    [60, undefined],
  ] as const) {
    const v5 = await RawClient.open(t, port, 5);
    const connack = (await v5.connect(`v5-${asked}`, { keepalive: asked })) as {
      properties?: { serverKeepAlive?: number };
    };
    assert.equal(reasonOf(connack as Packet), 0);
    assert.equal(connack.properties?.serverKeepAlive, told, `keepalive ${asked}`);
  }
  assert.equal(seen.length, 1, 'a v5 device told another keepalive is not refused');
});

for (const version of [4, 5] as const) {
  const v = version === 5 ? 'v5' : '3.1.1';

  test(`${v}: topic limits on PUBLISH and will`, async (t) => {
    const { events, seen } = recorder();
    const { intake, port } = await serveFrontEnd(t, {
      limits: { maxTopicBytes: 32, maxTopicLevels: 4 },
      events,
    });
    const device = await RawClient.open(t, port, version);
    await device.connect('topics');
    device.send(publish(1, { topic: 'a/b/c/d/e' }));
    if (version === 5) {
      const ack = await device.next('puback');
      assert.deepEqual([ack.messageId, reasonOf(ack)], [1, 0x90]);
      device.send(publish(2));
      assert.equal(reasonOf(await device.next('puback')), 0, 'the device stays connected');
    } else {
      assert.equal(await device.closesWithin(2000), true);
    }
    const willed = await RawClient.open(t, port, version);
    willed.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clean: true,
      clientId: 'willed',
      keepalive: 60,
      will: { topic: 'x'.repeat(40), payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    assert.equal(await willed.closesWithin(2000), true);
    if (version === 5) assert.equal(reasonOf(willed.take('connack')[0]!), 0x90);
    else assert.deepEqual(willed.take('connack'), []);
    assert.deepEqual(seen, ['dropped:topic_too_many_levels', 'dropped:topic_too_long']);
    assert.equal(
      intake.messages.some((m) => m.topic === 'a/b/c/d/e'),
      false,
    );
  });

  test(`${v}: publish rate, disconnect: the connection over its rate is closed`, async (t) => {
    const { events, seen } = recorder();
    const { port } = await serveFrontEnd(t, {
      limits: { publishRate: { ratePerSecond: 10, burst: 5, whenExceeded: 'disconnect' } },
      events,
    });
    const device = await RawClient.open(t, port, version);
    await device.connect('flood');
    device.send(...Array.from({ length: 20 }, (_, i) => publish(i + 1, { qos: 0 })));
    assert.equal(await device.closesWithin(2000), true);
    if (version === 5) assert.equal(reasonOf(device.take('disconnect')[0]!), 0x97);
    assert.deepEqual(seen, ['rate:disconnect', 'dropped:rate_limited']);
  });

  test(`${v}: publish rate, slow: everything is taken, at the rate`, async (t) => {
    const { events, seen } = recorder();
    const { intake, port } = await serveFrontEnd(t, {
      limits: { publishRate: { ratePerSecond: 50, burst: 5, whenExceeded: 'slow' } },
      events,
    });
    const device = await RawClient.open(t, port, version);
    await device.connect('slowed');
    const started = Date.now();
    // One publish in flight at a time, so that each socket read is one publish (what was read is
    // always taken; reading waits between reads).
    for (let i = 1; i <= 40; i++) {
      device.send(publish(i));
      assert.equal((await device.next('puback')).messageId, i);
    }
    assert.equal(intake.messages.length, 40);
    const ms = Date.now() - started;
    assert.ok(ms >= 0.9 * ((40 - 5 - 1) / 50) * 1000, `40 messages at 50/s with a burst of 5 took ${ms} ms`);
    assert.equal(device.isClosed, false);
    assert.ok(seen.filter((e) => e === 'rate:slow').length >= 10, seen.join(' '));
  });

  test(`${v}: subscriptions: QoS 0 deliveries of what the intake took; beyond maxSubscriptions closed`, async (t) => {
    const { events, seen } = recorder();
    const { intake, port } = await serveFrontEnd(t, {
      hooks: { authorizeSubscribe: (_d, filter) => filter !== 'secret/#' },
      maxSubscriptions: 2,
      events,
    });
    const sub = await RawClient.open(t, port, version);
    await sub.connect('sub');
    sub.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [
        { topic: 'plant/+/telemetry', qos: 1 },
        { topic: 'secret/#', qos: 0 },
      ],
    });
    const suback = (await sub.next('suback')) as { granted: number[] };
    assert.deepEqual(suback.granted, [0, version === 5 ? 0x87 : 0x80]);
    const pub = await RawClient.open(t, port, version);
    await pub.connect('pub');
    intake.mode = new Error('not taken');
    pub.send(publish(1));
    await pub.closed;
    intake.mode = 'settle';
    const pub2 = await RawClient.open(t, port, version);
    await pub2.connect('pub2');
    pub2.send(publish(2), publish(3, { topic: 'plant/p-1/other' }));
    const delivered = (await sub.next('publish')) as IPublishPacket;
    assert.deepEqual(
      [delivered.topic, delivered.qos, delivered.payload.toString()],
      ['plant/p-1/telemetry', 0, '{"n":2}'],
    );
    await sleep(100);
    assert.deepEqual(sub.take('publish'), [], 'only the message taken, only where a filter matches');
    sub.send({
      cmd: 'subscribe',
      messageId: 2,
      subscriptions: [
        { topic: 'a/#', qos: 0 },
        { topic: 'b/#', qos: 0 },
      ],
    });
    assert.equal(await sub.closesWithin(2000), true);
    if (version === 5) assert.equal(reasonOf(sub.take('disconnect')[0]!), 0x97);
    assert.deepEqual(seen, ['refused:max_subscriptions']);
  });
}

test('v5: wills waiting for their delay are at most maxSessions; beyond it the oldest is published now', async (t) => {
  const { intake, port } = await serveFrontEnd(t, { maxSessions: 1 });
  const willed = async (clientId: string) => {
    const device = await RawClient.open(t, port, 5);
    await device.connect(clientId, {
      properties: { sessionExpiryInterval: 120 },
      will: {
        topic: `wills/${clientId}`,
        payload: Buffer.from('gone'),
        qos: 0,
        retain: false,
        properties: { willDelayInterval: 60 },
      },
    });
    device.socket.destroy(); // no DISCONNECT: the will is due after its delay
    await device.closed;
    await sleep(100);
  };
  await willed('first');
  assert.equal(intake.messages.length, 0, 'the will waits for its delay');
  await willed('second');
  assert.deepEqual(
    intake.messages.map((m) => m.topic),
    ['wills/first'],
  );
});
