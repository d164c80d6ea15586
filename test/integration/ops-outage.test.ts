// Health that tells the truth during a Kafka outage: with Kafka stopped under QoS 1 load, weir
// stays ready (devices are still acknowledged, from the spool) but says it is degraded, why, and
// how the backlog grows; the spool gauges rise; when Kafka is back they fall and the state is ok.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import {
  DedicatedKafka,
  Device,
  fleetOf,
  freePort,
  sleep,
  waitFor,
  writeWeirConfig,
} from '../support/faults.ts';
import { scrape, series, waitForStatus } from '../support/ops.ts';

const DEVICES = 10;
const INTERVAL_MS = 50; // 200 msg/s in all

let kafka: DedicatedKafka;
before(async () => {
  kafka = await DedicatedKafka.create();
  await kafka.start();
});
after(() => kafka.destroy());

test('Kafka stopped: ready but degraded, the backlog grows; Kafka back: it drains and the state is ok', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-ops-outage-'));
  const { file } = writeWeirConfig({
    dir,
    port: await freePort(),
    brokers: kafka.brokers,
    topicPrefix: `ops.outage.${Date.now()}`,
    kafka: { requestTimeoutMs: 3000, connectionTimeoutMs: 1000 },
  });
  const raw = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  raw['http'] = { host: '127.0.0.1', port: 0, statusWindowSeconds: 3 };
  const gateway = await startGateway(parseConfig(raw, dir), {
    log: pino({ level: process.env.WEIR_TEST_LOG ?? 'silent' }),
    backoff: { initialMs: 50, maxMs: 500 },
  });
  t.after(() => gateway.stop());
  const base = `http://127.0.0.1:${gateway.http!.port}`;
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
  const devices = Array.from({ length: DEVICES }, (_, i) => new Device(url, fleetOf(i), `ops-outage-${i}`));
  t.after(() => Promise.all(devices.map((d) => d.close())));
  await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
  for (const d of devices) d.publishEvery(INTERVAL_MS);
  const acked = () => devices.reduce((n, d) => n + d.acked.size, 0);

  // Flowing: ok, ready, records out at about the rate in.
  const flowing = await waitForStatus(
    base,
    (s) => s.state === 'ok' && s.windowSeconds >= 2.5 && s.out.recordsPerSecond > 100,
    20_000,
    'ok with data flowing',
  );
  assert.equal(flowing.ready, true);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);

  kafka.kill();
  const ackedAtKill = acked();
  const degraded = await waitForStatus(
    base,
    (s) =>
      ['kafka_down', 'backlog_growing'].every((code) => s.conditions.some((c) => c.code === code)) &&
      s.out.recordsPerSecond === 0,
    20_000,
    'kafka_down and backlog_growing, nothing out for a window',
  );
  assert.equal(degraded.state, 'degraded');
  assert.equal(degraded.ready, true, 'still taking messages in');
  assert.equal(degraded.kafka.up, false);
  assert.ok(degraded.in.messagesPerSecond > 100, `data still comes in (${degraded.in.messagesPerSecond}/s)`);
  assert.ok(degraded.backlog.oldestAgeSeconds! >= 3, `backlog age ${degraded.backlog.oldestAgeSeconds}`);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200, '/readyz: ready but degraded');
  const readyBody = (await ready.json()) as { state: string; conditions: Array<{ code: string }> };
  assert.equal(readyBody.state, 'degraded');
  assert.ok(readyBody.conditions.some((c) => c.code === 'kafka_down'));

  // The spool gauges rise while Kafka is stopped; devices are still acknowledged.
  const m1 = await scrape(base);
  await sleep(1500);
  const m2 = await scrape(base);
  assert.equal(series(m2, 'weir_kafka_up'), 0);
  const records = (m: Map<string, number>) => series(m, 'weir_spool_records');
  assert.ok(
    records(m2) > records(m1) && records(m1) > 0,
    `spool records rise: ${records(m1)} → ${records(m2)}`,
  );
  assert.ok(series(m2, 'weir_spool_bytes') >= series(m1, 'weir_spool_bytes'));
  assert.ok(
    series(m2, 'weir_spool_oldest_record_age_seconds') > series(m1, 'weir_spool_oldest_record_age_seconds'),
  );
  assert.ok(acked() > ackedAtKill + 200, 'devices are still acknowledged from the spool');

  await kafka.start();
  const recovered = await waitForStatus(
    base,
    (s) => s.state === 'ok' && s.kafka.up && s.backlog.records! < 500,
    60_000,
    'ok again, the backlog drained',
  );
  assert.ok(recovered.out.records > 0);
  const m3 = await scrape(base);
  assert.equal(series(m3, 'weir_kafka_up'), 1);
  assert.ok(records(m3) < records(m2), `spool records fall: ${records(m2)} → ${records(m3)}`);

  for (const d of devices) d.stopPublishing();
  await waitFor(() => devices.every((d) => d.unacked === 0), 20_000, 'every publish acknowledged');
  const done = await waitForStatus(
    base,
    (s) => s.backlog.records === 0 && s.out.records === s.in.messages,
    30_000,
    'everything in Kafka',
  );
  assert.equal(done.in.messages, done.out.records);
  assert.equal(series(await scrape(base), 'weir_spool_records'), 0);
});
