// A file system that fills up before the spool reaches spool.maxBytes, while Kafka is down: the
// spool on a small tmpfs, maxBytes far larger. weir must refuse what it cannot write (no PUBACK),
// then — once Kafka is back and has everything — reclaim the space by itself, acknowledge the
// devices' resends, stop failing by itself, and not replay delivered records after a restart. The
// failing writes are logged once, not once per write.
//
// Mounting a tmpfs needs root (CI runs as root); elsewhere the test says why it is skipped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import { type Gateway, startGateway } from '../../gateway/main.ts';
import {
  compareDelivery,
  DedicatedKafka,
  Device,
  fleetOf,
  highWatermarks,
  sleep,
  waitFor,
  waitUntilSettled,
  writeWeirConfig,
} from '../support/faults.ts';
import { readFleetRecords } from '../support/records.ts';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;

let kafka: DedicatedKafka;
before(async () => {
  kafka = await DedicatedKafka.create(); // the broker starts only when "Kafka returns"
  process.env.WEIR_TEST_KAFKA_BROKERS = kafka.brokers;
});
after(() => kafka.destroy());

/** Log lines of an in-process gateway, parsed. */
function captureLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('spool on a full file system', () => {
  test('refuses while full, reclaims delivered space by itself, writable and ready again, no replay after a restart', {
    skip: isRoot ? false : 'mounting a tmpfs needs root',
    timeout: 300_000,
  }, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-enospc-'));
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(spoolDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', spoolDir]);
    t.after(() => execFileSync('umount', ['-l', spoolDir]));

    const { file, topics } = writeWeirConfig({
      dir,
      port: 0,
      brokers: kafka.brokers,
      topicPrefix: `enospc.${Date.now()}`,
      // 64 MiB allowed on a 2 MiB file system: the disk, not the cap, is the limit; the
      // segment (8 MiB) is larger than the disk, so one segment holds everything.
      spool: { maxBytes: 64 * MiB, checkpointIntervalMs: 1000 },
    });
    const raw = parse(readFileSync(file, 'utf8'));
    raw.http.statusWindowSeconds = 3;
    const config = parseConfig(raw, dir);
    const start = async () => {
      const captured = captureLog();
      const gateway = await startGateway(config, {
        log: captured.log,
        backoff: { initialMs: 50, maxMs: 500 },
      });
      return { gateway, lines: captured.lines };
    };
    let { gateway, lines } = await start();
    let running: Gateway | null = gateway;
    t.after(() => running?.stop());

    const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
    const devices = Array.from({ length: 10 }, (_, i) => new Device(url, fleetOf(i), `enospc-dev-${i}`));
    t.after(() => Promise.all(devices.map((d) => d.close())));
    await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
    for (const d of devices) d.publishEvery(2);

    // The file system fills: writes fail, publishes are not acknowledged, status says so.
    await waitFor(
      () => gateway.status().conditions.some((c) => c.code === 'spool_not_writable'),
      60_000,
      'spool_not_writable',
    );
    await sleep(2000);
    const acked = () => devices.reduce((n, d) => n + d.acked.size, 0);
    const ackedWhenFull = acked();
    await sleep(2000);
    assert.equal(acked(), ackedWhenFull, 'no PUBACK while the disk is full');
    assert.equal(gateway.status().state, 'failing');
    for (const d of devices) d.stopPublishing(); // from here on, devices only resend

    // Kafka returns: everything written is delivered, the space is reclaimed, and the devices'
    // resends are acknowledged — without a restart.
    await kafka.start();
    const kafkaBack = Date.now();
    await waitFor(
      () => devices.every((d) => d.unacked === 0),
      120_000,
      'every publish to be acknowledged',
    ).catch((err) => {
      const files = execFileSync('ls', ['-la', spoolDir]).toString();
      throw new Error(
        `${err.message}: ${JSON.stringify(gateway.spool!.stats())} ${JSON.stringify(gateway.status().conditions)}\n${files}\n${lines
          .slice(-15)
          .map((l) => JSON.stringify(l))
          .join('\n')}`,
      );
    });
    // Writable again: not failing, ready. What stays is the truth that the disk is smaller
    // than spool.maxBytes (disk_low, degraded).
    const onlyDiskLow = () =>
      gateway
        .status()
        .conditions.map((c) => c.code)
        .join() === 'disk_low';
    const allAckedMs = Date.now() - kafkaBack;
    await waitFor(onlyDiskLow, 30_000, 'spool_not_writable to clear').catch((err) => {
      throw new Error(`${err.message}: ${JSON.stringify(gateway.status().conditions)}`);
    });
    assert.equal(gateway.status().state, 'degraded');
    assert.equal(gateway.status().ready, true);
    const total = await waitUntilSettled(kafka.brokers, Object.values(topics), acked(), 60_000);
    const report = compareDelivery(devices, await readFleetRecords(topics, total));
    assert.deepEqual(
      report.missing.slice(0, 10),
      [],
      `${report.missing.length} acknowledged messages missing`,
    );
    assert.deepEqual(report.outOfOrder.slice(0, 10), [], 'per-device order kept');

    const failingLines = lines.filter(
      (l) => l.msg === 'spool writes failing: messages are not acknowledged until the spool can be written',
    );
    const failedWrites = gateway.metrics.spoolIoErrors.value;
    assert.ok(failedWrites > 10, `writes failed while full (${failedWrites})`);
    assert.ok(
      failingLines.length >= 1 && failingLines.length <= 2,
      `logged once, not per write: ${failingLines.length} lines for ${failedWrites} failures`,
    );
    assert.equal(failingLines[0]!.dir, spoolDir);
    assert.equal(typeof failingLines[0]!.freeBytes, 'number');
    assert.ok(lines.some((l) => l.msg === 'spool writable again'));

    // A restart replays nothing that Kafka already has.
    await waitFor(() => gateway.spool!.drained, 30_000, 'the spool to drain');
    const inKafka = await highWatermarks(kafka.brokers, Object.values(topics));
    await gateway.stop();
    running = null;
    ({ gateway, lines } = await start());
    running = gateway;
    assert.equal(gateway.spool!.stats().records, 0, 'nothing left to replay');
    await sleep(2000);
    assert.equal(await highWatermarks(kafka.brokers, Object.values(topics)), inKafka, 'nothing sent again');
    process.stderr.write(
      `disk full: ${ackedWhenFull} acknowledged before the disk filled, ${failedWrites} failed writes logged in ${failingLines.length} line(s); every resend acknowledged ${(allAckedMs / 1000).toFixed(1)} s after Kafka was started; ${acked()} acknowledged in all, ${report.received} in Kafka, 0 replayed after restart\n`,
    );
  });
});
