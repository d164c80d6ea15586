// The spool at its byte cap while Kafka is away.
//  - block: weir stops acknowledging once the cap is reached (devices feel backpressure), its
//    memory stays flat, and when Kafka returns every acknowledged message arrives.
//  - dropOldest: every message is acknowledged, the oldest records are dropped, and the drop
//    counter equals exactly the number of acknowledged messages missing from Kafka.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
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
  WeirProcess,
  waitFor,
  waitUntilSettled,
  writeWeirConfig,
} from '../support/faults.ts';
import { readFleetRecords } from '../support/records.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Stated bound on weir's resident memory while blocked with a 512 KiB spool. */
const RSS_BOUND = 224 * MiB;

let kafka: DedicatedKafka;
before(async () => {
  kafka = await DedicatedKafka.create(); // ports reserved; the broker starts only when "Kafka returns"
  process.env.WEIR_TEST_KAFKA_BROKERS = kafka.brokers;
});
after(() => kafka.destroy());

function spoolBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
}

describe('spool full while Kafka is down', () => {
  test('block: no PUBACK past the cap, flat memory, everything acknowledged arrives once Kafka returns', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-full-'));
    const port = await freePort();
    const maxBytes = 512 * KiB;
    const { file, topics } = writeWeirConfig({
      dir,
      port,
      brokers: kafka.brokers,
      topicPrefix: `full.block.${Date.now()}`,
      spool: { maxBytes, whenFull: 'block' },
    });
    const weir = new WeirProcess(file);
    t.after(() => weir.kill9().catch(() => {}));
    await weir.start();
    const url = `mqtt://127.0.0.1:${port}`;
    const devices = Array.from({ length: 20 }, (_, i) => new Device(url, fleetOf(i), `block-dev-${i}`));
    t.after(() => Promise.all(devices.map((d) => d.close())));
    await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
    for (const d of devices) d.publishEvery(5); // 4,000 msg/s offered

    const acked = () => devices.reduce((n, d) => n + d.acked.size, 0);
    await waitFor(
      () => acked() > 0 && spoolBytes(path.join(dir, 'spool')) > maxBytes * 0.8,
      30_000,
      'the spool to fill',
    );
    // What was already read from the sockets still goes in up to the cap: the acknowledgements
    // stop once it is reached (within about 2 s; longer on a machine busy with other tests).
    let lastAcked = acked();
    let changedAt = Date.now();
    await waitFor(
      () => {
        if (acked() !== lastAcked) {
          lastAcked = acked();
          changedAt = Date.now();
        }
        return Date.now() - changedAt >= 2000;
      },
      30_000,
      'the acknowledgements to stop at the cap',
    );
    const ackedAtCap = acked();
    const rss: number[] = [];
    for (let i = 0; i < 8; i++) {
      await sleep(1000);
      rss.push(await weir.rssBytes());
    }
    const sentWhileBlocked = devices.reduce((n, d) => n + d.sent, 0);
    assert.equal(acked(), ackedAtCap, 'no PUBACK while the spool is full');
    assert.ok(spoolBytes(path.join(dir, 'spool')) <= maxBytes, 'the spool stays within maxBytes');
    assert.ok(sentWhileBlocked > ackedAtCap * 2, 'devices kept trying');
    assert.ok(
      Math.max(...rss) < RSS_BOUND,
      `RSS stays under ${RSS_BOUND / MiB} MiB: ${rss.map((b) => Math.round(b / MiB))}`,
    );
    assert.ok(
      Math.max(...rss) - rss[0]! < 16 * MiB,
      `RSS stays flat while blocked: ${rss.map((b) => Math.round(b / MiB))}`,
    );

    // Kafka returns: the backlog drains and the waiting devices are acknowledged.
    for (const d of devices) d.stopPublishing();
    await kafka.start();
    await waitFor(() => devices.every((d) => d.unacked === 0), 120_000, 'every publish to be acknowledged');
    const total = await waitUntilSettled(kafka.brokers, Object.values(topics), acked(), 60_000);
    const report = compareDelivery(devices, await readFleetRecords(topics, total));
    assert.deepEqual(
      report.missing.slice(0, 10),
      [],
      `${report.missing.length} acknowledged messages missing`,
    );
    assert.deepEqual(report.outOfOrder.slice(0, 10), [], 'per-device order kept');
    assert.equal(await weir.stop(), 0);
    process.stderr.write(
      `spool full (block): ${ackedAtCap} acknowledged at the cap, RSS ${rss.map((b) => Math.round(b / MiB)).join('/')} MiB, ${acked()} acknowledged in all, all in Kafka\n`,
    );
  });

  test('dropOldest: the drop counter equals exactly the acknowledged messages missing from Kafka', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-full-'));
    const { file, topics } = writeWeirConfig({
      dir,
      port: 0,
      brokers: kafka.brokers,
      topicPrefix: `full.drop.${Date.now()}`,
      spool: { maxBytes: 256 * KiB, whenFull: 'dropOldest' },
    });
    const raw = parse(readFileSync(file, 'utf8'));
    raw.batch = { ...raw.batch, maxBufferedBytes: 32 * KiB };
    const gateway = await startGateway(parseConfig(raw, dir), {
      log: pino({ level: 'silent' }),
      backoff: { initialMs: 50, maxMs: 500 },
    });
    t.after(() => gateway.stop());
    await kafka.stopIfRunning();
    const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
    const devices = Array.from({ length: 10 }, (_, i) => new Device(url, fleetOf(i), `drop-dev-${i}`));
    t.after(() => Promise.all(devices.map((d) => d.close())));
    await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
    for (let round = 0; round < 600; round++) {
      for (const d of devices) d.publishNext();
      if (round % 50 === 0) await sleep(10);
    }
    await waitFor(() => devices.every((d) => d.unacked === 0), 60_000, 'every publish to be acknowledged');
    const dropped = await metricValue(gateway.metrics.registry, 'weir_dropped_messages_total', {
      reason: 'spool_full',
    });
    assert.ok(dropped > 1000, `the oldest records were dropped (${dropped})`);

    await kafka.start();
    await waitFor(() => gateway.spool!.drained, 120_000, 'the spool to drain');
    const acked = devices.reduce((n, d) => n + d.acked.size, 0);
    const total = await waitUntilSettled(kafka.brokers, Object.values(topics), acked - dropped, 60_000, 1000);
    const report = compareDelivery(devices, await readFleetRecords(topics, total));
    assert.equal(report.missing.length, dropped, 'missing = dropped, exactly');
    assert.equal(report.duplicates, 0);
    assert.deepEqual(report.outOfOrder.slice(0, 10), []);
    process.stderr.write(
      `spool full (dropOldest): ${acked} acknowledged, ${dropped} dropped and counted, ${report.received} in Kafka\n`,
    );
  });
});
