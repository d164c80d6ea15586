// A hung Kafka is down, for operators too: with the broker's JVM frozen (SIGSTOP: sockets open,
// nothing answered), weir_kafka_up turns 0 and /status shows kafka_down within about
// kafka.requestTimeoutMs — with every client, whether devices are sending or the gateway is idle
// (then only the probe can tell) — and both turn back once the broker answers again. Devices keep
// being acknowledged from the spool meanwhile. Once stopped, the gateway leaves no timer or socket
// behind (the probe stops with it).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { loadRdkafka } from '../../gateway/sinks/kafka/rdkafka-lib.ts';
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

const REQUEST_TIMEOUT_MS = 3_000;
/** The probe's interval (1 s), the status page's sampling (1 s) and a slow shared machine. */
const NOTICE_MARGIN_MS = 4_000;
const DEVICES = 5;
const rdkafka = await loadRdkafka().catch((err: Error) => err);

/** Timers and sockets of this process, by kind (what a stopped gateway must not leave behind). */
function handles(): { timers: number; sockets: number } {
  const info = process.getActiveResourcesInfo();
  return {
    timers: info.filter((r) => r === 'Timeout').length,
    sockets: info.filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length,
  };
}

describe('a hung Kafka is reported down in /metrics and /status', () => {
  let kafka: DedicatedKafka;
  before(async () => {
    kafka = await DedicatedKafka.create();
    await kafka.start();
  });
  after(() => kafka.destroy());

  for (const client of ['platformatic', 'kafkajs', 'rdkafka'] as const) {
    for (const traffic of [false, true]) {
      const skip =
        client === 'rdkafka' && rdkafka instanceof Error && !process.env.CI
          ? `rdkafka unavailable here: ${rdkafka.message}`
          : false;
      const name = `${client}, ${traffic ? `${DEVICES} devices sending` : 'no traffic'}`;
      test(name, { skip }, async (t) => {
        if (client === 'rdkafka' && rdkafka instanceof Error) throw rdkafka;
        const dir = mkdtempSync(path.join(tmpdir(), 'weir-hang-status-'));
        const { file } = writeWeirConfig({
          dir,
          port: await freePort(),
          brokers: kafka.brokers,
          topicPrefix: `hang.status.${client}.${traffic ? 'load' : 'idle'}.${Date.now()}`,
          kafka: { client, requestTimeoutMs: REQUEST_TIMEOUT_MS, connectionTimeoutMs: 1_000 },
        });
        const raw = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        raw['http'] = { host: '127.0.0.1', port: 0, statusWindowSeconds: 3 };
        const before = handles();
        const gateway = await startGateway(parseConfig(raw, dir), {
          log: pino({ level: process.env.WEIR_TEST_LOG ?? 'silent' }),
          backoff: { initialMs: 50, maxMs: 500 },
        });
        let stopped = false;
        t.after(async () => {
          if (!stopped) await gateway.stop();
        });
        const base = `http://127.0.0.1:${gateway.http!.port}`;
        const devices: Device[] = [];
        t.after(() => Promise.all(devices.map((d) => d.close())));
        if (traffic) {
          const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
          for (let i = 0; i < DEVICES; i++) devices.push(new Device(url, fleetOf(i), `hang-${client}-${i}`));
          await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
          for (const d of devices) d.publishEvery(50);
        }
        // The broker may still be catching up after the previous test's freeze.
        await waitForStatus(
          base,
          (s) => s.state === 'ok' && s.kafka.up && (!traffic || s.out.recordsPerSecond > 0),
          60_000,
          'ok, Kafka up',
        );

        kafka.freeze();
        let thawed = false;
        t.after(() => {
          if (!thawed) kafka.thaw();
        });
        const frozenAt = Date.now();
        // A send that fails first shows kafka_down without a cause for a moment; the cause follows
        // once the probe has waited kafka.requestTimeoutMs — both within the bound.
        const down = await waitForStatus(
          base,
          (s) =>
            !s.kafka.up &&
            s.conditions.some((c) => c.code === 'kafka_down' && /does not answer/.test(c.message)),
          REQUEST_TIMEOUT_MS + NOTICE_MARGIN_MS,
          'kafka_down (does not answer) in /status',
        );
        const noticedMs = Date.now() - frozenAt;
        assert.equal(series(await scrape(base), 'weir_kafka_up'), 0, 'weir_kafka_up');
        assert.equal(down.state, 'degraded');
        assert.equal(down.ready, true, 'devices are still taken in');
        assert.match(down.conditions.find((c) => c.code === 'kafka_down')!.message, /does not answer/);
        if (traffic) {
          const acked = devices.reduce((n, d) => n + d.acked.size, 0);
          await sleep(1_000);
          assert.ok(
            devices.reduce((n, d) => n + d.acked.size, 0) > acked,
            'devices are acknowledged from the spool',
          );
        } else {
          await sleep(1_000);
        }
        // Down for as long as it hangs: no flapping back to up.
        assert.equal(series(await scrape(base), 'weir_kafka_up'), 0, 'still down a second later');

        kafka.thaw();
        thawed = true;
        const thawedAt = Date.now();
        await waitForStatus(
          base,
          (s) => s.kafka.up && !s.conditions.some((c) => c.code === 'kafka_down'),
          30_000,
          'Kafka up again',
        );
        const backMs = Date.now() - thawedAt;
        assert.equal(series(await scrape(base), 'weir_kafka_up'), 1, 'weir_kafka_up after the thaw');
        t.diagnostic(`kafka_down ${(noticedMs / 1000).toFixed(1)} s after the freeze`);
        t.diagnostic(`up again ${(backMs / 1000).toFixed(1)} s after the thaw`);

        if (traffic) {
          for (const d of devices) d.stopPublishing();
          await waitFor(() => devices.every((d) => d.unacked === 0), 30_000, 'every publish acknowledged');
          const done = await waitForStatus(
            base,
            (s) => s.backlog.records === 0 && s.out.records === s.in.messages,
            60_000,
            'everything in Kafka',
          );
          assert.equal(done.out.records, done.in.messages);
          await Promise.all(devices.splice(0).map((d) => d.close()));
        }

        await gateway.stop();
        stopped = true;
        // Whatever the clients close asynchronously gets a moment; then nothing may be left.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          const now = handles();
          if (now.timers <= before.timers && now.sockets <= before.sockets) break;
          await sleep(100);
        }
        const left = handles();
        assert.ok(
          left.timers <= before.timers && left.sockets <= before.sockets,
          `after stop: ${JSON.stringify(left)}, before start: ${JSON.stringify(before)} (${process.getActiveResourcesInfo().join(', ')})`,
        );
      });
    }
  }
});
