// Kafka goes away under load — killed, or hung (SIGSTOP: sockets open, no answers) — and comes
// back. weir keeps taking messages into the spool meanwhile; afterwards every acknowledged
// message is in Kafka, in per-device order.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { metricValue } from '../../gateway/metrics.ts';
import {
  compareDelivery,
  DedicatedKafka,
  Device,
  fleetOf,
  freePort,
  sleep,
  waitFor,
  waitUntilSettled,
  writeWeirConfig,
} from '../support/faults.ts';
import { readFleetRecords } from '../support/records.ts';

const DEVICES = 50;
const RUN_MS = 60_000;
const OUTAGE_MS = 20_000;
const INTERVAL_MS = 50; // 20 msg/s per device, 1,000 msg/s in all

let kafka: DedicatedKafka;
before(async () => {
  kafka = await DedicatedKafka.create();
  await kafka.start();
  process.env.WEIR_TEST_KAFKA_BROKERS = kafka.brokers; // the test helpers read from this broker
});
after(() => kafka.destroy());

async function runOutage(kind: 'killed' | 'hung') {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-outage-'));
  const { file, topics } = writeWeirConfig({
    dir,
    port: await freePort(),
    brokers: kafka.brokers,
    topicPrefix: `outage.${kind}.${Date.now()}`,
  });
  const { parse } = await import('yaml');
  const { readFileSync } = await import('node:fs');
  const loaded = parseConfig(parse(readFileSync(file, 'utf8')), dir);
  const gateway = await startGateway(loaded, { log: pino({ level: process.env.WEIR_TEST_LOG ?? 'silent' }) });
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
  const devices = Array.from({ length: DEVICES }, (_, i) => new Device(url, fleetOf(i), `${kind}-dev-${i}`));
  try {
    await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
    for (const d of devices) d.publishEvery(INTERVAL_MS);

    await sleep((RUN_MS - OUTAGE_MS) / 2);
    const ackedBefore = devices.reduce((n, d) => n + d.acked.size, 0);
    if (kind === 'killed') kafka.kill();
    else kafka.freeze();
    await sleep(OUTAGE_MS / 2);
    // Kafka is gone, weir is not: devices are still acknowledged (from the spool).
    const ackedDuring = devices.reduce((n, d) => n + d.acked.size, 0);
    assert.ok(
      ackedDuring > ackedBefore + DEVICES * 50,
      `acknowledgements go on during the outage (${ackedBefore} → ${ackedDuring})`,
    );
    await waitFor(
      async () => (await metricValue(gateway.metrics.registry, 'weir_kafka_up')) === 0,
      15_000,
      'weir to notice the outage',
    );
    await sleep(OUTAGE_MS / 2);
    if (kind === 'killed') await kafka.start();
    else kafka.thaw();
    await sleep((RUN_MS - OUTAGE_MS) / 2);

    for (const d of devices) d.stopPublishing();
    await waitFor(() => devices.every((d) => d.unacked === 0), 30_000, 'every publish to be acknowledged');
    await waitFor(() => gateway.spool!.drained, 60_000, 'the spool to drain into Kafka');
    const acked = devices.reduce((n, d) => n + d.acked.size, 0);
    const total = await waitUntilSettled(kafka.brokers, Object.values(topics), acked, 30_000, 1000);
    const report = compareDelivery(devices, await readFleetRecords(topics, total));
    assert.deepEqual(
      report.missing.slice(0, 10),
      [],
      `${report.missing.length} acknowledged messages missing`,
    );
    assert.deepEqual(report.outOfOrder.slice(0, 10), [], 'per-device order kept');
    assert.ok(
      acked >= DEVICES * (RUN_MS / INTERVAL_MS) * 0.8,
      `devices kept publishing (${acked} acknowledged)`,
    );
    process.stderr.write(
      `kafka ${kind}: ${acked} acknowledged, ${report.received} in Kafka, ${report.duplicates} duplicates, 0 missing\n`,
    );
  } finally {
    await Promise.all(devices.map((d) => d.close()));
    await gateway.stop();
  }
}

describe('Kafka outage under QoS 1 load (50 devices, 60 s, 20 s outage)', () => {
  test('Kafka killed and restarted: every acknowledged message arrives, in order', () => runOutage('killed'));
  test('Kafka hung (SIGSTOP/SIGCONT): every acknowledged message arrives, in order', () => runOutage('hung'));
});
