// Each limit of the MQTT source triggers for the connection that breaks it, is counted, and leaves
// every other device alone: their messages are acknowledged and reach Kafka.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import type { Gateway } from '../../gateway/main.ts';
import { metricValue } from '../../gateway/metrics.ts';
import {
  connectDevice,
  type Fleet,
  publishSequence,
  readingFor,
  type SentMessage,
  topicFor,
} from '../support/devices.ts';
import { sleep, waitFor } from '../support/faults.ts';
import { startTestGateway, type TestTopics } from '../support/gateway.ts';
import { RawConnection } from '../support/raw-mqtt.ts';
import { readFleetRecords } from '../support/records.ts';

function mqttConfig(limits: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { mqtt: { host: '127.0.0.1', port: 0, ...extra, limits } };
}

const metric = (gateway: Gateway, name: string, labels: Record<string, string> = {}) =>
  metricValue(gateway.metrics.registry, name, labels);

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const id = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Every message in `sent` is in Kafka, among everything else the gateway took in. */
async function assertInKafka(
  gateway: Gateway,
  topics: TestTopics,
  sent: readonly SentMessage[],
): Promise<void> {
  const total =
    (await metric(gateway, 'weir_source_messages_total')) -
    (await metric(gateway, 'weir_source_messages_total', { route: 'no_route' }));
  assert.ok(total >= sent.length, `the gateway took in ${total} messages, ${sent.length} sent`);
  const records = await readFleetRecords(
    { city: topics.city, factory: topics.factory, vehicle: topics.vehicle },
    total,
  );
  const have = new Set(records.map((r) => `${r.deviceId}/${r.seq}`));
  const missing = sent.filter((m) => !have.has(`${m.deviceId}/${m.payload.seq}`));
  assert.deepEqual(
    missing.slice(0, 5),
    [],
    `${missing.length} of ${sent.length} acknowledged messages missing`,
  );
}

async function honest(url: string, fleet: Fleet, count: number) {
  const deviceId = id('honest');
  const client = await connectDevice(url, deviceId);
  const sent = await publishSequence(client, fleet, deviceId, count, 10);
  await client.endAsync();
  return sent;
}

describe('MQTT source limits', () => {
  test('maxConnections: the N+1th connection is refused while the N keep working', async (t) => {
    const { gateway, topics, url } = await startTestGateway(t, mqttConfig({ maxConnections: 3 }));
    const devices: Array<{ id: string; client: MqttClient }> = [];
    for (let i = 0; i < 3; i++) {
      const deviceId = id('capped');
      devices.push({ id: deviceId, client: await connectDevice(url, deviceId) });
    }
    t.after(() => Promise.all(devices.map((d) => d.client.endAsync(true))));

    const extra = await RawConnection.open(gateway.mqtt.port);
    extra.connect(id('extra'));
    assert.equal(await extra.closesWithin(2000), true, 'the 4th connection is closed');
    assert.equal(extra.received.length, 0, 'without a CONNACK');
    const refused = mqtt.connect(url, { clientId: id('extra'), reconnectPeriod: 0, connectTimeout: 2000 });
    refused.on('error', () => {});
    const outcome = await Promise.race([
      new Promise((r) => refused.once('connect', () => r('connected'))),
      new Promise((r) => refused.once('close', () => r('closed'))),
    ]);
    refused.end(true);
    assert.equal(outcome, 'closed', 'an mqtt.js client cannot connect either');
    assert.ok(
      (await metric(gateway, 'weir_source_connections_refused_total', { reason: 'max_connections' })) >= 2,
    );

    const sent = (
      await Promise.all(
        devices.map((d, i) =>
          publishSequence(d.client, (['city', 'factory', 'vehicle'] as const)[i]!, d.id, 50),
        ),
      )
    ).flat();
    await assertInKafka(gateway, topics, sent);

    // A slot freed is a slot again.
    await devices.pop()!.client.endAsync();
    await waitFor(
      async () => (await metric(gateway, 'weir_source_connected_devices')) === 2,
      5000,
      'a disconnect',
    );
    await sleep(200);
    const again = await connectDevice(url, id('again'));
    await again.endAsync();
  });

  test('CONNECT timeout: a socket that never completes CONNECT is closed and counted', async (t) => {
    const connectTimeoutMs = 600;
    const { gateway, url } = await startTestGateway(t, mqttConfig({}, { connectTimeoutMs }));
    const silent = await RawConnection.open(gateway.mqtt.port);
    const half = await RawConnection.open(gateway.mqtt.port);
    // Half a CONNECT: the fixed header promises more than ever arrives.
    half.send(Buffer.from([0x10, 0x20, 0x00, 0x04, 0x4d, 0x51]));
    t.after(() => {
      silent.destroy();
      half.destroy();
    });
    const started = Date.now();
    const sent = honest(url, 'vehicle', 30); // a device connecting meanwhile is unaffected
    assert.equal(await silent.closesWithin(5000), true, 'the silent socket is closed');
    assert.equal(await half.closesWithin(5000), true, 'the half-open CONNECT is closed');
    const after = silent.closedAt! - started;
    assert.ok(after >= connectTimeoutMs - 50 && after < connectTimeoutMs + 2000, `closed after ${after} ms`);
    assert.equal(
      await metric(gateway, 'weir_source_connections_refused_total', { reason: 'connect_timeout' }),
      2,
    );
    assert.equal((await sent).length, 30);
  });

  test('keepalive bounds: a CONNECT outside them is refused without CONNACK; inside is accepted', async (t) => {
    const { gateway } = await startTestGateway(
      t,
      mqttConfig({ minKeepaliveSeconds: 5, maxKeepaliveSeconds: 120 }),
    );
    const tryKeepalive = async (keepalive: number) => {
      const c = await RawConnection.open(gateway.mqtt.port);
      t.after(() => c.destroy());
      c.connect(id(`ka${keepalive}`), { keepalive });
      return { connack: await c.waitFor('connack', 2000), closed: await c.closesWithin(2000) };
    };
    const never = await tryKeepalive(0);
    assert.equal(never.connack, null);
    assert.equal(never.closed, true, 'keepalive 0 (never) is refused when minKeepaliveSeconds > 0');
    const tooLong = await tryKeepalive(300);
    assert.equal(tooLong.connack, null);
    assert.equal(tooLong.closed, true);
    const ok = await tryKeepalive(60);
    assert.equal((ok.connack as { returnCode?: number } | null)?.returnCode, 0);
    assert.equal(ok.closed, false);
    assert.equal(await metric(gateway, 'weir_source_connections_refused_total', { reason: 'keepalive' }), 2);
  });

  test('topic limits: too long or too deep closes that connection, is counted, and others are unaffected', async (t) => {
    const { gateway, topics, url } = await startTestGateway(
      t,
      mqttConfig({ maxTopicBytes: 64, maxTopicLevels: 6 }),
    );
    const honestRun = honest(url, 'factory', 100);
    const tryTopic = async (topic: string) => {
      const client = await connectDevice(url, id('topics'));
      t.after(() => client.endAsync(true));
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      client.publish(topic, JSON.stringify(readingFor('vehicle', 1, Date.now())), { qos: 1 });
      await closed;
    };
    await tryTopic(`fleet/buses/vehicles/${'x'.repeat(64)}/position`);
    await tryTopic('fleet/buses/vehicles/bus-1/position/a/b');
    assert.equal(await metric(gateway, 'weir_dropped_messages_total', { reason: 'topic_too_long' }), 1);
    assert.equal(
      await metric(gateway, 'weir_dropped_messages_total', { reason: 'topic_too_many_levels' }),
      1,
    );
    // A will topic is held to the same limits.
    const willed = await RawConnection.open(gateway.mqtt.port);
    t.after(() => willed.destroy());
    willed.connect(id('will'), {
      will: { topic: 'a/b/c/d/e/f/g', payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    assert.equal(await willed.closesWithin(2000), true);
    assert.equal(
      await metric(gateway, 'weir_dropped_messages_total', { reason: 'topic_too_many_levels' }),
      2,
    );
    await assertInKafka(gateway, topics, await honestRun);
  });

  test('rate limit, slow: the device is slowed to its rate and every message arrives; others are not slowed', async (t) => {
    const ratePerSecond = 100;
    const burst = 10;
    const { gateway, topics, url } = await startTestGateway(
      t,
      mqttConfig({ publishRate: { ratePerSecond, burst, whenExceeded: 'slow' } }),
    );
    const fastId = id('fast');
    const fast = await connectDevice(url, fastId);
    t.after(() => fast.endAsync(true));
    const count = 300;
    const window = 20;
    const started = performance.now();
    const flood = publishSequence(fast, 'city', fastId, count, window);
    // Meanwhile a device within its rate: 20 messages in 1 s, each acknowledged promptly.
    const calmId = id('calm');
    const calm = await connectDevice(url, calmId);
    t.after(() => calm.endAsync(true));
    const calmSent: SentMessage[] = [];
    let slowest = 0;
    for (let seq = 1; seq <= 20; seq++) {
      const payload = readingFor('vehicle', seq, Date.now());
      const t0 = performance.now();
      await calm.publishAsync(topicFor('vehicle', calmId), JSON.stringify(payload), { qos: 1 });
      slowest = Math.max(slowest, performance.now() - t0);
      calmSent.push({ fleet: 'vehicle', deviceId: calmId, topic: topicFor('vehicle', calmId), payload });
      await sleep(50);
    }
    const floodSent = await flood;
    const seconds = (performance.now() - started) / 1000;
    // What is read from the socket is admitted, then reading waits until the rate is met: the
    // last window's debt is never waited for.
    const minSeconds = (count - burst - window) / ratePerSecond;
    assert.ok(
      seconds >= minSeconds * 0.9,
      `${count} messages took ${seconds.toFixed(2)} s (at least ${minSeconds} s expected)`,
    );
    assert.ok(slowest < 1000, `the calm device waited at most ${slowest.toFixed(0)} ms for a PUBACK`);
    assert.ok(
      (await metric(gateway, 'weir_source_rate_limited_total', { action: 'slow' })) >= count - burst - 100,
    );
    assert.equal(await metric(gateway, 'weir_source_rate_limited_total', { action: 'disconnect' }), 0);
    assert.ok(fast.connected, 'the slowed device stayed connected');
    await assertInKafka(gateway, topics, [...floodSent, ...calmSent]);
  });

  test('rate limit, disconnect: the device over its rate is disconnected; others are fine', async (t) => {
    const { gateway, topics, url } = await startTestGateway(
      t,
      mqttConfig({ publishRate: { ratePerSecond: 20, burst: 20, whenExceeded: 'disconnect' } }),
    );
    const fastId = id('flood');
    const fast = await connectDevice(url, fastId);
    t.after(() => fast.endAsync(true));
    const closed = new Promise<void>((r) => fast.once('close', () => r()));
    for (let seq = 1; seq <= 100; seq++) {
      fast.publish(topicFor('city', fastId), JSON.stringify(readingFor('city', seq, Date.now())), { qos: 0 });
    }
    await closed;
    assert.ok((await metric(gateway, 'weir_source_rate_limited_total', { action: 'disconnect' })) >= 1);
    assert.ok((await metric(gateway, 'weir_dropped_messages_total', { reason: 'rate_limited' })) >= 1);
    const sent = await honest(url, 'factory', 15);
    await assertInKafka(gateway, topics, sent);
  });

  test('a device flooding at 10x its rate and devices that stop reading do not slow the others', {
    timeout: 60_000,
  }, async (t) => {
    const { gateway, topics, url } = await startTestGateway(t, {
      ...mqttConfig({
        drainTimeoutMs: 4000,
        publishRate: { ratePerSecond: 50, burst: 50, whenExceeded: 'slow' },
      }),
      // Subscriptions are refused unless a rule allows them: this one lets anyone read everything.
      acl: { subscribe: [{ pattern: '#' }] },
    });
    const padded = (fleet: Fleet, seq: number, bytes: number) =>
      JSON.stringify(readingFor(fleet, seq, Date.now())) + ' '.repeat(bytes); // still valid JSON

    // A subscriber to everything that never reads its socket: every message is fanned out to it.
    const subscriber = await RawConnection.open(gateway.mqtt.port);
    t.after(() => subscriber.destroy());
    subscriber.connect(id('stalled-sub'), { keepalive: 0 });
    subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] });
    const suback = (await subscriber.waitFor('suback')) as { granted?: number[] } | null;
    assert.deepEqual(suback?.granted, [0], 'subscriptions are granted at QoS 0');
    subscriber.socket.pause();

    // A publisher that never reads its PUBACKs.
    const deaf = await RawConnection.open(gateway.mqtt.port);
    t.after(() => deaf.destroy());
    deaf.connect(id('deaf'), { keepalive: 0 });
    deaf.socket.pause();
    const deafTopic = topicFor('factory', id('deaf'));

    // The flooder: 500 msg/s offered at QoS 1 against a limit of 50/s.
    const floodId = id('flood');
    const flood = await connectDevice(url, floodId);
    t.after(() => flood.endAsync(true));
    let floodSeq = 0;
    // A device within its rate sending large messages (200 KB at 40/s): the fan-out of these fills
    // the subscriber's socket buffers (on loopback Linux lets them grow to tens of MB) quickly.
    const bulkId = id('bulk');
    const bulk = await connectDevice(url, bulkId);
    t.after(() => bulk.endAsync(true));
    const bulkSent: SentMessage[] = [];
    let bulkAcked = 0;

    const honestDevices = await Promise.all(
      [0, 1, 2].map(async () => {
        const deviceId = id('honest');
        return { deviceId, client: await connectDevice(url, deviceId), sent: [] as SentMessage[], acked: 0 };
      }),
    );
    t.after(() => Promise.all(honestDevices.map((d) => d.client.endAsync(true))));
    const latencies: number[] = [];
    let deafSeq = 0;
    const timers = [
      setInterval(() => {
        for (let i = 0; i < 5; i++)
          flood.publish(topicFor('city', floodId), padded('city', ++floodSeq, 0), { qos: 1 });
      }, 10),
      setInterval(() => {
        for (let i = 0; i < 2; i++) {
          const payload = readingFor('factory', bulkSent.length + 1, Date.now());
          const topic = topicFor('factory', bulkId);
          bulkSent.push({ fleet: 'factory', deviceId: bulkId, topic, payload });
          bulk.publish(topic, JSON.stringify(payload) + ' '.repeat(200_000), { qos: 1 }, (err) => {
            if (!err) bulkAcked++;
          });
        }
      }, 50),
      setInterval(() => {
        for (let i = 0; i < 20; i++)
          deaf.send({
            cmd: 'publish',
            topic: deafTopic,
            qos: 1,
            messageId: (++deafSeq % 65_535) + 1,
            dup: false,
            retain: false,
            payload: padded('factory', deafSeq, 0),
          });
      }, 20),
      setInterval(() => {
        for (const d of honestDevices) {
          const seq = d.sent.length + 1;
          const payload = readingFor('vehicle', seq, Date.now());
          const topic = topicFor('vehicle', d.deviceId);
          d.sent.push({ fleet: 'vehicle', deviceId: d.deviceId, topic, payload });
          const t0 = performance.now();
          d.client.publish(topic, `${JSON.stringify(payload)}${' '.repeat(4096)}`, { qos: 1 }, (err) => {
            if (!err) {
              d.acked++;
              latencies.push(performance.now() - t0);
            }
          });
        }
      }, 50),
    ];
    t.after(() => {
      for (const timer of timers) clearInterval(timer);
    });
    await sleep(8000);
    for (const timer of timers) clearInterval(timer);
    await waitFor(
      () => honestDevices.every((d) => d.acked === d.sent.length) && bulkAcked === bulkSent.length,
      10_000,
      'honest devices acknowledged',
    );

    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    t.diagnostic(
      `honest PUBACK latency p50 ${latencies[latencies.length >> 1]!.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms over ${latencies.length}`,
    );
    assert.ok(latencies.length >= 3 * 80, `${latencies.length} honest messages acknowledged`);
    // Promptly: none waited anywhere near the drain timeout, as it would if a reader that never
    // reads held up the publishers.
    assert.ok(p99 < 1500, `honest devices acknowledged promptly: p99 ${p99.toFixed(0)} ms`);
    assert.ok(latencies.at(-1)! < 3000, `slowest honest PUBACK ${latencies.at(-1)!.toFixed(0)} ms`);
    assert.ok((await metric(gateway, 'weir_source_rate_limited_total', { action: 'slow' })) > 0);
    // Reading again, the subscriber finds its connection closed: the drain timeout ended it.
    subscriber.socket.resume();
    assert.ok(
      await subscriber.closesWithin(10_000),
      'the subscriber that never reads is closed by the drain timeout',
    );
    assert.ok(
      (await metric(gateway, 'weir_source_subscriber_skipped_total')) > 0,
      'deliveries to it were skipped',
    );
    assert.ok(flood.connected, 'the flooder is slowed, not disconnected');
    await assertInKafka(gateway, topics, [...bulkSent, ...honestDevices.flatMap((d) => d.sent)]);
    // Still up and taking messages after all that.
    await assertInKafka(gateway, topics, await honest(url, 'factory', 10));
  });

  test('QoS 2 messages waiting for PUBREL do not keep their payloads in memory', async (t) => {
    const { gateway, topics } = await startTestGateway(t, mqttConfig({}));
    const deviceId = id('qos2');
    const conn = await RawConnection.open(gateway.mqtt.port);
    t.after(() => conn.destroy());
    conn.connect(deviceId, { clean: false });
    assert.ok(await conn.waitFor('connack'));
    await settleGc();
    const before = process.memoryUsage().arrayBuffers;
    const count = 400;
    const sent: SentMessage[] = [];
    for (let seq = 1; seq <= count; seq++) {
      const payload = readingFor('vehicle', seq, Date.now());
      const topic = topicFor('vehicle', deviceId);
      sent.push({ fleet: 'vehicle', deviceId, topic, payload });
      // 50 KB each, one socket read each; never a PUBREL.
      conn.send({
        cmd: 'publish',
        topic,
        qos: 2,
        messageId: seq,
        dup: false,
        retain: false,
        payload: JSON.stringify(payload) + ' '.repeat(50_000),
      });
      await sleep(2);
    }
    await waitFor(
      () => conn.received.filter((p) => p.cmd === 'pubrec').length === count,
      20_000,
      'every PUBREC',
    );
    await settleGc();
    const grownMiB = (process.memoryUsage().arrayBuffers - before) / 1024 / 1024;
    // Holding the payloads (each pinning its socket read) would be 20 MB or more.
    assert.ok(
      grownMiB < 8,
      `buffer memory grew by ${grownMiB.toFixed(1)} MiB with ${count} messages awaiting PUBREL`,
    );
    await assertInKafka(gateway, topics, sent);
  });
});

/** Full collections until freed buffers are swept (that part runs in the background). */
async function settleGc(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(20);
  }
}
