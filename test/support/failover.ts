// Broker failover under QoS 1 load, against a TestCluster: weir (in process, the client under
// test) takes messages from persistent-session devices while a broker is killed, frozen, two are
// lost, or all are restarted one by one. Afterwards every acknowledged message must be in Kafka,
// in per-device order, with nothing dead-lettered; duplicates are counted. Measured on the way:
// the longest time Kafka accepted nothing from weir after the fault (its metadata refresh and
// retry), and what /status said.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import { startGateway } from '../../gateway/main.ts';
import { metricValue } from '../../gateway/metrics.ts';
import type { TestCluster } from './cluster.ts';
import {
  compareDelivery,
  Device,
  fleetOf,
  freePort,
  sleep,
  waitFor,
  waitUntilSettled,
  writeWeirConfig,
} from './faults.ts';
import { getStatus } from './ops.ts';
import { readFleetRecords } from './records.ts';

export const SCENARIOS = ['leader-kill', 'leader-sigstop', 'lose-two', 'rolling-restart'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export type Client = 'platformatic' | 'kafkajs' | 'rdkafka';

export interface FailoverResult {
  scenario: Scenario;
  client: Client;
  devices: number;
  ratePerSecond: number;
  acknowledged: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  deadLetters: number;
  /** Longest span, from the fault on, in which Kafka acknowledged nothing of weir's, ms. */
  longestStallMs: number;
  /**
   * From the fault until the cluster named a new leader for the partition (admin metadata
   * requests to the other brokers every 250 ms); -1 when it did not change (e.g. a broker resumed
   * before it was fenced, a rolling restart).
   */
  leaderMovedMs: number;
  /** recoverMs − leaderMovedMs: weir's own part (metadata refresh, retry), -1 when not both known. */
  metadataRefreshMs: number;
  /** From the fault until Kafka acknowledged weir's records again (first resumption), ms. */
  recoverMs: number;
  /**
   * From the moment the lost brokers were back (restarted, or resumed after SIGSTOP) until Kafka
   * acknowledged weir's records again, ms; -1 when writes had already resumed by then.
   */
  resumeAfterRestoreMs: number;
  /** Whether /status said Kafka was down at some point during the fault. */
  statusSawDown: boolean;
  /** /status at the end: Kafka up, backlog empty. */
  statusUpAtEnd: boolean;
  /** Largest spool backlog seen, records. */
  maxBacklogRecords: number;
  durationMs: number;
}

const INTERVAL_MS = 50; // 20 msg/s per device

export async function runFailover(
  cluster: TestCluster,
  scenario: Scenario,
  client: Client,
  opts: { devices?: number; warmMs?: number; holdMs?: number } = {},
): Promise<FailoverResult> {
  await cluster.ensureAllRunning(); // a failed scenario before may have left a node down
  const started = Date.now();
  const devicesN = opts.devices ?? 30;
  const warmMs = opts.warmMs ?? 4_000;
  const holdMs = opts.holdMs ?? 12_000;
  const dir = mkdtempSync(path.join(tmpdir(), `weir-failover-${scenario}-`));
  const { file, topics } = writeWeirConfig({
    dir,
    port: await freePort(),
    brokers: cluster.brokers,
    topicPrefix: `failover.${scenario}.${client}.${Date.now()}`,
    kafka: { client, requestTimeoutMs: 10_000 },
  });
  const raw = parse(readFileSync(file, 'utf8')) as { kafka: { brokers: string[] } };
  raw.kafka.brokers = cluster.brokerList; // every node, as an operator lists them
  const loaded = parseConfig(raw, dir);
  // WEIR_TEST_LOG=debug WEIR_TEST_LOG_FILE=/path keeps weir's log of each scenario for a post-mortem.
  const logFile = process.env.WEIR_TEST_LOG_FILE;
  const log = pino(
    { level: process.env.WEIR_TEST_LOG ?? 'silent' },
    logFile === undefined
      ? undefined
      : pino.destination({ dest: `${logFile}.${scenario}.${client}`, sync: true }),
  );
  const gateway = await startGateway(loaded, { log });
  const base = `http://127.0.0.1:${gateway.http!.port}`;
  const url = `mqtt://127.0.0.1:${gateway.mqtt.port}`;
  const devices = Array.from(
    { length: devicesN },
    (_, i) => new Device(url, fleetOf(i), `${scenario}-${client}-${i}`),
  );
  const registry = gateway.metrics.registry;
  const delivered = () => metricValue(registry, 'weir_kafka_records_total');

  // Watch Kafka's acknowledgements and /status every 100 ms from the fault on.
  let faultAt = 0;
  let lastProgressAt = 0;
  let lastDelivered = 0;
  let longestStallMs = 0;
  let recoverMs = -1;
  let restoredAt = 0;
  let resumeAfterRestoreMs = -1;
  let statusSawDown = false;
  let maxBacklog = 0;
  let watching = true;
  let leaderMovedMs = -1;
  let leaderWatch: Promise<void> = Promise.resolve();
  const watcher = (async () => {
    while (watching) {
      const n = await delivered();
      const now = Date.now();
      if (faultAt > 0) {
        if (n > lastDelivered) {
          if (restoredAt > 0 && resumeAfterRestoreMs < 0 && lastProgressAt < restoredAt) {
            resumeAfterRestoreMs = now - restoredAt;
          }
          if (recoverMs < 0 && now - lastProgressAt > 500) recoverMs = now - faultAt;
          longestStallMs = Math.max(longestStallMs, now - Math.max(lastProgressAt, faultAt));
          lastProgressAt = now;
        }
        const s = await getStatus(base).catch(() => null);
        if (s !== null) {
          if (!s.kafka.up) statusSawDown = true;
          maxBacklog = Math.max(maxBacklog, s.backlog.records ?? 0);
        }
      } else if (n > lastDelivered) lastProgressAt = now;
      lastDelivered = n;
      await sleep(100);
    }
  })();

  const fleetTopics = Object.values(topics);
  try {
    await waitFor(() => devices.every((d) => d.client.connected), 30_000, 'devices to connect');
    await cluster.waitFullIsr(fleetTopics, 30_000);
    const parts = await cluster.partitions(topics.city);
    assert.equal(parts[0]!.replicas.length, 3, 'weir created its topics with 3 replicas');
    for (const d of devices) d.publishEvery(INTERVAL_MS);
    await sleep(warmMs);
    const leader = await cluster.leaderOf(topics.city);
    faultAt = Date.now();
    lastProgressAt = faultAt;
    if (scenario === 'leader-kill' || scenario === 'leader-sigstop') {
      const others = cluster.brokersExcept(leader);
      leaderWatch = (async () => {
        while (watching && leaderMovedMs < 0 && Date.now() - faultAt < 60_000) {
          const p = await cluster.partitions(topics.city, others).catch(() => null);
          if (p !== null && p[0]!.leader >= 0 && p[0]!.leader !== leader)
            leaderMovedMs = Date.now() - faultAt;
          await sleep(250);
        }
      })();
    }

    switch (scenario) {
      case 'leader-kill': {
        cluster.kill(leader);
        await waitFor(() => recoverMs >= 0, 60_000, 'weir to write to the new leader');
        await cluster.restart(leader); // ~10 s, under load on the new leader
        restoredAt = Date.now();
        break;
      }
      case 'leader-sigstop': {
        cluster.freeze(leader);
        await sleep(holdMs);
        restoredAt = Date.now();
        cluster.thaw(leader);
        break;
      }
      case 'lose-two': {
        const other = cluster.nodeIds.find((id) => id !== leader)!;
        cluster.kill(leader);
        cluster.kill(other);
        const ackedBefore = devices.reduce((n, d) => n + d.acked.size, 0);
        await sleep(holdMs);
        const ackedDuring = devices.reduce((n, d) => n + d.acked.size, 0);
        assert.ok(
          ackedDuring > ackedBefore + devicesN * 20,
          `devices are acknowledged from the spool while two brokers are down (${ackedBefore} → ${ackedDuring})`,
        );
        assert.equal(
          await metricValue(registry, 'weir_deadletter_records_total'),
          0,
          'nothing is dead-lettered while Kafka lacks in-sync replicas',
        );
        await waitFor(() => statusSawDown, 20_000, '/status to say Kafka is down while it accepts no writes');
        await Promise.all([cluster.restart(leader), cluster.restart(other)]);
        restoredAt = Date.now();
        break;
      }
      case 'rolling-restart': {
        for (const id of cluster.nodeIds) {
          await cluster.stop(id);
          await cluster.restart(id);
          await cluster.waitFullIsr(fleetTopics, 60_000);
        }
        break;
      }
    }
    await cluster.waitFullIsr(fleetTopics, 90_000);
    await sleep(warmMs);
    for (const d of devices) d.stopPublishing();
    await waitFor(() => devices.every((d) => d.unacked === 0), 60_000, 'every publish to be acknowledged');
    await waitFor(() => gateway.spool!.drained, 90_000, 'the spool to drain into Kafka');
    const end = await getStatus(base);
    watching = false;
    await watcher;
    await leaderWatch;

    const acked = devices.reduce((n, d) => n + d.acked.size, 0);
    const total = await waitUntilSettled(cluster.brokerList[0]!, fleetTopics, acked, 30_000, 1000);
    const records = await readFleetRecords(topics, total);
    const report = compareDelivery(devices, records);
    for (const m of report.missing.slice(0, 5)) {
      // Where the record should have been: the device's neighbours in Kafka order.
      const own = records.map((r, i) => ({ ...r, i })).filter((r) => r.deviceId === m.device);
      const near = own.filter((r) => Math.abs(r.seq - m.seq) <= 3).map((r) => `${r.seq}@${r.i}`);
      process.stderr.write(`missing ${m.device} seq ${m.seq}; around it in Kafka: ${near.join(' ')}\n`);
    }
    const result: FailoverResult = {
      scenario,
      client,
      devices: devicesN,
      ratePerSecond: devicesN * (1000 / INTERVAL_MS),
      acknowledged: acked,
      lost: report.missing.length,
      duplicates: report.duplicates,
      outOfOrder: report.outOfOrder.length,
      deadLetters: await metricValue(registry, 'weir_deadletter_records_total'),
      longestStallMs,
      leaderMovedMs,
      metadataRefreshMs: leaderMovedMs >= 0 && recoverMs >= 0 ? recoverMs - leaderMovedMs : -1,
      recoverMs,
      resumeAfterRestoreMs,
      statusSawDown,
      statusUpAtEnd: end.kafka.up && (end.backlog.records ?? 0) === 0,
      maxBacklogRecords: maxBacklog,
      durationMs: Date.now() - started,
    };
    process.stderr.write(`failover ${JSON.stringify(result)}\n`);
    assert.deepEqual(
      report.missing.slice(0, 10),
      [],
      `${report.missing.length} acknowledged messages missing`,
    );
    assert.deepEqual(report.outOfOrder.slice(0, 10), [], 'per-device order kept');
    assert.equal(result.deadLetters, 0, 'nothing dead-lettered');
    assert.ok(
      result.statusUpAtEnd,
      `/status at the end: Kafka up, backlog empty (${JSON.stringify(end.kafka)})`,
    );
    return result;
  } finally {
    watching = false;
    await watcher.catch(() => {});
    await leaderWatch.catch(() => {});
    await Promise.all(devices.map((d) => d.close().catch(() => {})));
    await gateway.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await cluster.ensureAllRunning();
  }
}

/** The Markdown table of benchmarks/results/cluster-failover.md, from its JSON. */
export function failoverMarkdown(run: {
  commit: string;
  machine: string;
  cluster: { startMs: number; rssBytes: number[]; rssAfter: number[] };
  results: FailoverResult[];
}): string {
  const mib = (b: number) => Math.round(b / 2 ** 20);
  const s = (ms: number) => (ms < 0 ? '–' : (ms / 1000).toFixed(1));
  // Only where the brokers were gone until restored does "after they were back" say something.
  const afterBack = (r: FailoverResult) =>
    r.scenario === 'lose-two' || r.scenario === 'leader-sigstop' ? s(r.resumeAfterRestoreMs) : '–';
  const rows = run.results.map(
    (r) =>
      `| ${r.scenario} | ${r.client} | ${r.acknowledged} | ${r.lost} | ${r.duplicates} | ${r.outOfOrder} | ${r.deadLetters} | ${s(r.leaderMovedMs)} | ${s(r.recoverMs)} | ${s(r.metadataRefreshMs)} | ${afterBack(r)} | ${s(r.longestStallMs)} | ${r.maxBacklogRecords} | ${r.statusSawDown ? 'yes' : 'no'} |`,
  );
  return [
    `# Broker failover on a 3-node cluster (commit ${run.commit})`,
    '',
    `Machine: ${run.machine}. Command: \`npm run test:cluster\`. Cluster: 3 combined broker+controller nodes, RF 3, min.insync.replicas 2, ready ${s(run.cluster.startMs)} s after the JVMs started, RSS ${run.cluster.rssBytes.map(mib).join(' / ')} MiB after start, ${run.cluster.rssAfter.map(mib).join(' / ')} MiB at the end.`,
    'Load: 30 QoS 1 devices at 20 msg/s each (600 msg/s), persistent sessions; faults held 12 s.',
    '',
    '| scenario | client | acknowledged | lost | duplicates | out of order | dead letters | new leader after (s) | writes resumed after the fault (s) | weir’s part: metadata refresh (s) | … after the brokers were back (s) | longest stall (s) | max backlog (records) | /status said down |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
  ].join('\n');
}
