// The operations listener against a real Kafka: /metrics counts a known load exactly (by route
// and QoS, bytes included), /status and /readyz agree with it, the page and its files are served,
// and nothing is logged per message at info level.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { WeirError } from '../../gateway/errors.ts';
import { weirVersion } from '../../gateway/http/version.ts';
import { startGateway } from '../../gateway/main.ts';
import { connectDevice, readingFor, topicFor } from '../support/devices.ts';
import { waitFor } from '../support/faults.ts';
import { sampleConfig } from '../support/gateway.ts';
import { scrape, series, waitForStatus } from '../support/ops.ts';

/** Publishes every payload on `topic`; resolves when all are written (QoS 0) or acknowledged. */
async function publishAll(
  client: MqttClient,
  topic: string,
  payloads: string[],
  qos: 0 | 1,
): Promise<number> {
  await Promise.all(payloads.map((p) => client.publishAsync(topic, p, { qos })));
  return payloads.reduce((n, p) => n + Buffer.byteLength(p), 0);
}

const readings = (fleet: 'city' | 'factory' | 'vehicle', n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify(readingFor(fleet, i + 1, Date.now())));

describe('operations listener', () => {
  test('metrics, /status and /readyz count a known load exactly; no per-message logs at info', async (t) => {
    const lines: string[] = [];
    const { loaded, topics } = sampleConfig();
    const gateway = await startGateway(loaded, {
      log: pino({ level: 'info' }, { write: (s: string) => lines.push(s) }),
      backoff: { initialMs: 50, maxMs: 1000 },
    });
    t.after(() => gateway.stop());
    assert.ok(gateway.http !== null);
    const base = `http://127.0.0.1:${gateway.http.port}`;
    const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
    const linesAtStart = lines.length;

    const bus = await connectDevice(url, 'ops-bus-1');
    const sensor = await connectDevice(url, 'ops-air-1');
    const machine = await connectDevice(url, 'ops-mill-1');
    t.after(() => Promise.all([bus, sensor, machine].map((c) => c.endAsync())));

    const vehicleTopic = topicFor('vehicle', 'ops-bus-1');
    const sent = {
      vehicle1: await publishAll(bus, vehicleTopic, readings('vehicle', 300), 1),
      invalid1: await publishAll(
        bus,
        vehicleTopic,
        Array.from({ length: 20 }, (_, i) => `{not json ${i}`),
        1,
      ),
      city0: await publishAll(sensor, topicFor('city', 'ops-air-1'), readings('city', 200), 0),
      factory1: await publishAll(machine, topicFor('factory', 'ops-mill-1'), readings('factory', 50), 1),
      nowhere1: await publishAll(machine, 'no/such/route', ['a', 'bb', 'ccc', 'dddd', 'eeeee'], 1),
    };
    const total = 300 + 20 + 200 + 50 + 5;

    // QoS 0 is counted on arrival; wait until everything is in Kafka.
    let m = await scrape(base);
    await waitFor(
      async () => {
        m = await scrape(base);
        return series(m, 'weir_kafka_records_total') === total;
      },
      30_000,
      `${total} records in Kafka`,
    );

    const msgs = (route: string, qos: string) => series(m, 'weir_source_messages_total', { route, qos });
    const bytes = (route: string, qos: string) =>
      series(m, 'weir_source_payload_bytes_total', { route, qos });
    assert.equal(msgs('vehicle-gps', '1'), 320);
    assert.equal(bytes('vehicle-gps', '1'), sent.vehicle1 + sent.invalid1);
    assert.equal(msgs('smart-city', '0'), 200);
    assert.equal(bytes('smart-city', '0'), sent.city0);
    assert.equal(msgs('factory-line', '1'), 50);
    assert.equal(bytes('factory-line', '1'), sent.factory1);
    assert.equal(msgs('no_route', '1'), 5);
    assert.equal(bytes('no_route', '1'), 15);
    for (const [route, qos] of [
      ['vehicle-gps', '0'],
      ['smart-city', '1'],
      ['factory-line', '2'],
      ['no_route', '0'],
    ] as const)
      assert.equal(msgs(route, qos), 0, `${route} qos ${qos} is exported, at 0`);
    assert.equal(series(m, 'weir_deadletter_records_total', { reason: 'invalid_json' }), 20);
    assert.equal(series(m, 'weir_deadletter_records_total', { reason: 'no_route' }), 5);
    assert.equal(series(m, 'weir_dropped_messages_total', { reason: 'spool_full' }), 0);
    // Histograms are observed per batch: fewer observations than records, summing to them.
    assert.equal(series(m, 'weir_kafka_batch_records_sum'), total);
    const batches = series(m, 'weir_kafka_batch_records_count');
    assert.ok(batches >= 1 && batches < total, `${batches} batches`);
    assert.ok(series(m, 'weir_kafka_send_duration_seconds_count') >= 1);
    assert.equal(series(m, 'weir_kafka_up'), 1);
    assert.equal(series(m, 'weir_source_connected_devices'), 3);
    assert.equal(series(m, 'weir_source_backpressure_active'), 0);
    assert.equal(series(m, 'weir_spool_max_bytes'), loaded.config.spool.maxBytes);
    assert.equal(series(m, 'weir_build_info', { version: weirVersion(), nodejs: process.versions.node }), 1);
    assert.ok(series(m, 'process_resident_memory_bytes') > 0, 'Node process metrics are exported');
    assert.ok(m.has('nodejs_eventloop_lag_seconds'));
    for (const key of m.keys()) assert.doesNotMatch(key, /ops-(bus|air|mill)/, 'no device id in any label');

    // /status tells the same story.
    const s = await waitForStatus(base, (x) => x.backlog.records === 0, 10_000, 'the spool to be drained');
    assert.equal(s.state, 'ok');
    assert.equal(s.ready, true);
    assert.equal(s.in.messages, total);
    assert.equal(
      s.in.bytes,
      Object.values(sent).reduce((a, b) => a + b, 0),
    );
    assert.equal(s.out.records, total);
    assert.deepEqual(
      s.routes.map((r) => [r.name, r.messages]),
      [
        ['smart-city', 200],
        ['factory-line', 50],
        ['vehicle-gps', 320],
        ['no_route', 5],
      ],
    );
    assert.ok(s.in.messagesPerSecond > 0 && s.windowSeconds > 0);
    assert.equal(s.devices.connected, 3);
    assert.equal(s.deadLetters.total, 25);
    assert.deepEqual(s.deadLetters.byReason, {
      invalid_json: 20,
      schema_mismatch: 0,
      no_route: 5,
      kafka_rejected: 0,
    });
    assert.equal(s.dropped.total, 0);
    assert.equal(s.kafka.up, true);
    assert.equal(s.kafka.problem, null);
    assert.deepEqual(s.kafka.brokers, loaded.config.kafka.brokers);
    assert.equal(s.backlog.where, 'spool');
    assert.ok((s.backlog.diskFreeBytes ?? 0) > 0, 'disk free is reported');
    assert.equal(s.gateway.version, weirVersion());
    assert.equal(s.gateway.id, loaded.config.gatewayId);

    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, state: 'ok', conditions: [] });
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');

    // Logs: a handful of lines at info however many messages, each from a stage's child logger.
    const during = lines.slice(linesAtStart).map((l) => JSON.parse(l) as { stage?: string; msg: string });
    assert.ok(during.length <= 5, `lines logged while ${total} messages went through:\n${lines.join('')}`);
    for (const l of lines) assert.doesNotMatch(l, /ops-(bus|air|mill)/, 'no device id logged at info');
    const stages = new Set(lines.map((l) => (JSON.parse(l) as { stage?: string }).stage));
    for (const stage of ['http', 'spool', 'source', 'sink', 'forwarder']) assert.ok(stages.has(stage), stage);
    void topics;
  });

  test('HTTP details: page and files, HEAD, 404, 405', async (t) => {
    const { loaded } = sampleConfig({ kafka: { brokers: ['127.0.0.1:1'] } });
    const gateway = await startGateway(loaded, { log: pino({ level: 'silent' }) });
    t.after(() => gateway.stop());
    const base = `http://127.0.0.1:${gateway.http!.port}`;

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    assert.match(await page.text(), /<script src="page.js"/);
    for (const [file, type] of [
      ['page.js', /^text\/javascript/],
      ['page.css', /^text\/css/],
    ] as const) {
      const r = await fetch(`${base}/${file}`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, type);
    }
    const head = await fetch(`${base}/status`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    const post = await fetch(`${base}/status`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    // Kafka unreachable from the start: ready (devices are taken in) but degraded.
    const s = await waitForStatus(base, (x) => x.state === 'degraded', 10_000, 'kafka_down');
    assert.equal(s.ready, true);
    assert.deepEqual(
      s.conditions.map((c) => c.code),
      ['kafka_down'],
    );
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    // Which brokers, and why they cannot be reached, in words.
    const down = await waitForStatus(base, (x) => x.kafka.problem !== null, 10_000, 'a Kafka problem');
    assert.deepEqual(down.kafka.brokers, ['127.0.0.1:1']);
    assert.equal(down.kafka.problem, 'Kafka at 127.0.0.1:1 refused the connection (nothing listens there)');
  });

  test('http.enabled: false serves nothing; a port in use fails the start with WEIR_HTTP_LISTEN', async (t) => {
    const off = await startGateway(sampleConfig({ http: { enabled: false } }).loaded, {
      log: pino({ level: 'silent' }),
    });
    t.after(() => off.stop());
    assert.equal(off.http, null);
    // (Stopping while the Kafka client still connects would leave it connecting.)
    await waitFor(() => off.status().kafka.up, 10_000, 'Kafka to be reachable');

    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    t.after(() => taken.close());
    const port = (taken.address() as net.AddressInfo).port;
    await assert.rejects(
      startGateway(sampleConfig({ http: { host: '127.0.0.1', port } }).loaded, {
        log: pino({ level: 'silent' }),
      }),
      (err: unknown) => err instanceof WeirError && err.code === 'WEIR_HTTP_LISTEN',
    );
  });
});
