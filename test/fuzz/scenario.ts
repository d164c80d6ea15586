// The fuzz scenario shared by `npm run fuzz` (1,000,000 packets) and the CI-sized integration test:
// weir as a child process against the real Kafka of the test run; the fuzz driver sending hostile
// MQTT over many connections while honest devices (mqtt.js, QoS 1, persistent sessions) publish.
// It asserts that weir never crashes, /healthz keeps answering, its RSS stays under a stated
// bound, and every message an honest device had acknowledged is in Kafka.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { parse, stringify } from 'yaml';
import { testKafkaBrokers } from '../helpers/kafka.ts';
import {
  compareDelivery,
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
import { tempDir } from '../support/weir-cli.ts';
import { type FuzzResult, runFuzz } from './driver.ts';

const MiB = 1024 * 1024;

export interface ScenarioOptions {
  readonly packets: number;
  readonly seed: number;
  readonly concurrency: number;
  readonly maxMs: number;
  /** Stated bound on weir's resident memory during the run. */
  readonly rssBoundBytes: number;
  readonly honestDevices: number;
}

export interface ScenarioResult {
  readonly fuzz: FuzzResult;
  readonly rssMaxBytes: number;
  readonly rssSamples: number[];
  readonly acked: number;
  readonly duplicates: number;
}

async function healthz(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function fuzzWeir(t: TestContext, opts: ScenarioOptions): Promise<ScenarioResult> {
  const say = (line: string) => {
    t.diagnostic(line);
    process.stderr.write(`fuzz: ${line}\n`);
  };
  say(`seed ${opts.seed} (replay with WEIR_FUZZ_SEED=${opts.seed}), ${opts.packets} packets`);
  const dir = tempDir(t, 'weir-fuzz-');
  const port = await freePort();
  const httpPort = await freePort();
  const { file, topics } = writeWeirConfig({
    dir,
    port,
    brokers: testKafkaBrokers()[0]!,
    topicPrefix: `fuzz.${opts.seed}.${Date.now()}`,
  });
  const config = parse(readFileSync(file, 'utf8'));
  // Fuzz sessions that never finish CONNECT are reaped quickly; everything else at its defaults.
  config.mqtt = { ...config.mqtt, connectTimeoutMs: 2000 };
  config.http = { host: '127.0.0.1', port: httpPort };
  writeFileSync(file, stringify(config));

  const weir = new WeirProcess(file);
  t.after(() => weir.kill9().catch(() => {}));
  await weir.start();
  const crashed = () => weir.child!.exitCode !== null || weir.child!.signalCode !== null;
  const crashReport = () =>
    `weir exited (code ${weir.child!.exitCode}, signal ${weir.child!.signalCode}) — seed ${opts.seed}\n${weir.output.slice(-4000)}`;

  const url = `mqtt://127.0.0.1:${port}`;
  const devices = Array.from(
    { length: opts.honestDevices },
    (_, i) => new Device(url, fleetOf(i), `honest-fuzz-${opts.seed}-${i}`),
  );
  t.after(() => Promise.all(devices.map((d) => d.close())));
  await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'honest devices to connect');
  for (const d of devices) d.publishEvery(20);

  const rssSamples: number[] = [];
  let healthFailures = 0;
  let monitoring = true;
  const monitor = (async () => {
    while (monitoring && !crashed()) {
      rssSamples.push(await weir.rssBytes().catch(() => 0));
      if (!(await healthz(httpPort))) healthFailures++;
      await sleep(500);
    }
  })();

  const fuzz = await runFuzz({
    host: '127.0.0.1',
    port,
    packets: opts.packets,
    seed: opts.seed,
    concurrency: opts.concurrency,
    maxMs: opts.maxMs,
    onProgress: (sent) => {
      if (sent % 200_000 < 50_000)
        say(`${sent} packets sent, RSS ${Math.round((rssSamples.at(-1) ?? 0) / MiB)} MiB`);
    },
  });
  monitoring = false;
  await monitor;
  assert.ok(!crashed(), crashReport());
  say(
    `${fuzz.packets} packets (${Math.round(fuzz.bytes / MiB)} MiB) in ${fuzz.sessions} sessions in ${(fuzz.ms / 1000).toFixed(1)} s; ${fuzz.closedByGateway} closed by weir; ${JSON.stringify(fuzz.byKind)}`,
  );
  assert.ok(
    fuzz.packets >= opts.packets,
    `sent ${fuzz.packets} of ${opts.packets} packets within ${opts.maxMs} ms`,
  );
  assert.equal(fuzz.refused, 0, 'the MQTT listener stayed up');

  // Honest devices: stop, let everything be acknowledged, then find it all in Kafka.
  for (const d of devices) d.stopPublishing();
  await waitFor(
    () => devices.every((d) => d.unacked === 0),
    60_000,
    'every honest publish to be acknowledged',
  );
  const acked = devices.reduce((n, d) => n + d.acked.size, 0);
  const total = await waitUntilSettled(testKafkaBrokers()[0]!, Object.values(topics), acked, 60_000);
  const report = compareDelivery(devices, await readFleetRecords(topics, total));
  assert.ok(!crashed(), crashReport());
  assert.ok(await healthz(httpPort), '/healthz answers after the run');
  assert.equal(healthFailures, 0, `/healthz failed ${healthFailures} times during the run`);

  const rssMaxBytes = Math.max(...rssSamples);
  const errors = weir.output.split('\n').filter((l) => l.includes('"level":50') || l.includes('"level":60'));
  if (errors.length > 0) say(`weir logged ${errors.length} errors, first: ${errors[0]!.slice(0, 500)}`);
  const tenths = Array.from({ length: 10 }, (_, i) => rssSamples[Math.floor((i * rssSamples.length) / 10)]!);
  say(`RSS over the run (MiB): ${tenths.map((b) => Math.round(b / MiB)).join(' ')}`);
  say(
    `honest: ${acked} acknowledged, ${report.missing.length} missing, ${report.duplicates} duplicates; RSS max ${Math.round(rssMaxBytes / MiB)} MiB (bound ${Math.round(opts.rssBoundBytes / MiB)} MiB), last ${Math.round((rssSamples.at(-1) ?? 0) / MiB)} MiB`,
  );
  assert.ok(acked > 0, 'honest devices were acknowledged during the run');
  assert.deepEqual(
    report.missing.slice(0, 10),
    [],
    `${report.missing.length} acknowledged messages missing — seed ${opts.seed}`,
  );
  assert.ok(
    rssMaxBytes < opts.rssBoundBytes,
    `RSS stayed under ${Math.round(opts.rssBoundBytes / MiB)} MiB: max ${Math.round(rssMaxBytes / MiB)} MiB — seed ${opts.seed}`,
  );
  assert.equal(await weir.stop(), 0, 'weir stops cleanly');
  return { fuzz, rssMaxBytes, rssSamples, acked, duplicates: report.duplicates };
}

export function fuzzSeed(): number {
  const fromEnv = process.env.WEIR_FUZZ_SEED;
  return fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}
