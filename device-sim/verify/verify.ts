// `weir verify` as a function: reads the fleet topics (and, when the run sent malformed messages,
// the dead-letter topic) from the run's start to the end offsets captured at the beginning,
// tallies every record of the run's devices, and turns that into per-fleet results and a verdict.
// If acknowledged records are missing, it keeps polling for newly appended records for a while
// (a gateway with a spool may still be forwarding) before it calls them lost.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetName } from '../fleets/fleet.ts';
import { kafkaClient, timestampTypes, withAdmin } from '../kafka.ts';
import { GENERATOR_VERSION } from '../plan.ts';
import type { SimReport } from '../report.ts';
import { analyzeFleets, type DeviceFindings, type FleetResult } from './analysis.ts';
import { deadLetterDecoder, TopicDecoder } from './decoders.ts';
import {
  extendRanges,
  type KafkaRecord,
  type PartitionRange,
  planRanges,
  type ReadProgress,
  readRanges,
} from './reader.ts';
import { Tally } from './tally.ts';
import { resolveTargets } from './targets.ts';
import { judge, type Verdict } from './verdict.ts';

export const DEFAULT_BROKERS = ['127.0.0.1:19092'];
export const RESULT_FORMAT = 'weir-verify-result/1';
/** How far before the run's start reading begins (clock differences between machines). */
export const START_MARGIN_MS = 60_000;
const MAX_FINDINGS = 100;

export interface VerifyOptions {
  readonly brokers?: readonly string[] | undefined;
  readonly configPath?: string | undefined;
  readonly topics?: Readonly<Partial<Record<FleetName, string>>>;
  readonly deadLetterTopic?: string | undefined;
  /** Read from the run's start (by timestamp) or from the beginning of the topics. */
  readonly from: 'run' | 'beginning';
  /** Upper bound on reading to the end offsets. */
  readonly timeoutMs: number;
  /** While acknowledged records are missing, keep looking for new ones this long. */
  readonly waitMs: number;
  /** Compare values with the regenerated readings. */
  readonly integrity: boolean;
}

export interface DeadLetterResult {
  readonly topic: string;
  /** Malformed messages the gateway acknowledged: each must be a dead letter. */
  readonly expected: number;
  /** Dead letters from this run's devices. */
  readonly found: number;
  readonly byReason: Readonly<Record<string, number>>;
  readonly byFleet: Readonly<Partial<Record<FleetName, number>>>;
}

export interface VerifyResult {
  readonly format: typeof RESULT_FORMAT;
  readonly runId: string;
  readonly qos: number;
  readonly brokers: readonly string[];
  readonly read: {
    readonly complete: boolean;
    readonly records: number;
    readonly foreign: number;
    readonly undecodable: number;
    readonly durationMs: number;
    readonly from: 'run' | 'beginning';
  };
  readonly integrity: 'checked' | 'off' | 'unavailable';
  readonly fleets: readonly FleetResult[];
  readonly deadLetters: DeadLetterResult | null;
  /** Records of this run per gateway, by the weir-gateway-id header ('' when absent). */
  readonly gateways: Readonly<Record<string, number>>;
  readonly findings: readonly DeviceFindings[];
  readonly devicesWithFindings: number;
  readonly verdict: Verdict;
  /** Why the verdict is what it is, one sentence each. */
  readonly reasons: readonly string[];
  readonly exitCode: 0 | 1 | 3;
}

export interface VerifyHooks {
  readonly progress?: (p: ReadProgress & { readonly phase: string }) => void;
}

export async function verifyRun(
  report: SimReport,
  opts: VerifyOptions,
  hooks: VerifyHooks = {},
): Promise<VerifyResult> {
  const started = performance.now();
  const targets = resolveTargets(report.devices, {
    configPath: opts.configPath,
    topics: opts.topics,
    deadLetterTopic: opts.deadLetterTopic,
  });
  const brokers = opts.brokers ?? targets.configBrokers ?? DEFAULT_BROKERS;
  const kafka = kafkaClient(brokers, 'weir-verify', targets.configSecurity);
  const integrityUsable = opts.integrity && report.generatorVersion === GENERATOR_VERSION;
  const tally = new Tally(report, { integrity: integrityUsable });

  const fleetByTopic = new Map(targets.fleets.map((t) => [t.topic, t]));
  const decoders = new Map(targets.fleets.map((t) => [t.topic, new TopicDecoder(t.schemaPath)]));
  const invalidAcked = report.totals.invalidAcked;
  const checkDeadLetters = invalidAcked > 0;
  const clientFleet = new Map(report.devices.map((d) => [d.clientId, d.fleet]));
  const dlDecoder = checkDeadLetters ? deadLetterDecoder() : null;
  const dead = {
    found: 0,
    byReason: {} as Record<string, number>,
    byFleet: {} as Partial<Record<FleetName, number>>,
  };

  const topics = [...fleetByTopic.keys()];
  const readTopics = checkDeadLetters ? [...topics, targets.deadLetterTopic] : topics;
  const fromMs = opts.from === 'run' ? report.startedAtMs - START_MARGIN_MS : null;
  const { types, ranges } = await withAdmin(kafka, async (admin) => ({
    types: await timestampTypes(admin, topics),
    ranges: await planRanges(admin, readTopics, fromMs),
  }));

  const ourDevices = new Set(report.devices.map((d) => d.deviceId));
  const gateways: Record<string, number> = {};
  const onRecord = (r: KafkaRecord) => {
    if (r.topic === targets.deadLetterTopic && dlDecoder !== null) {
      const dl = r.value === null ? null : dlDecoder.decode(r.value, undefined);
      const fleet = dl === null ? undefined : clientFleet.get(String(dl['clientId']));
      if (dl !== null && fleet !== undefined) {
        dead.found++;
        const reason = String(dl['reason']);
        dead.byReason[reason] = (dead.byReason[reason] ?? 0) + 1;
        dead.byFleet[fleet] = (dead.byFleet[fleet] ?? 0) + 1;
      }
      return;
    }
    const decoder = decoders.get(r.topic);
    if (decoder === undefined) return;
    const fp = r.headers['avro-schema-fingerprint'];
    const record =
      r.value === null ? null : decoder.decode(r.value, fp === undefined ? undefined : String(fp));
    if (record === null || typeof record['deviceId'] !== 'string' || typeof record['ts'] !== 'number') {
      tally.undecodable++;
      return;
    }
    if (ourDevices.has(record['deviceId'])) {
      const gw = r.headers['weir-gateway-id'];
      const id = gw === undefined ? '' : String(gw);
      gateways[id] = (gateways[id] ?? 0) + 1;
    }
    tally.add(
      {
        deviceId: record['deviceId'],
        key: r.key === null ? null : r.key.toString(),
        seq: typeof record['seq'] === 'number' ? record['seq'] : null,
        ts: record['ts'],
        receivedAt: typeof record['receivedAt'] === 'number' ? record['receivedAt'] : null,
        appendTime: types.get(r.topic) === 'LogAppendTime' ? r.timestamp : null,
        record,
      },
      decoder.fieldNames,
    );
  };

  const read = async (rs: readonly PartitionRange[], phase: string) =>
    readRanges(kafka, rs, onRecord, {
      timeoutMs: opts.timeoutMs,
      ...(hooks.progress && { onProgress: (p: ReadProgress) => hooks.progress?.({ ...p, phase }) }),
    });

  let readResult = await read(ranges, 'reading');
  let records = readResult.read;
  const fleetInputs = targets.fleets.map((t) => ({
    fleet: t.fleet,
    topic: t.topic,
    timestampType: types.get(t.topic) ?? null,
  }));
  let analysis = analyzeFleets(tally, fleetInputs);
  const missing = () =>
    analysis.fleets.reduce((s, f) => s + f.lost, 0) > 0 || (checkDeadLetters && dead.found < invalidAcked);
  const waitUntil = performance.now() + opts.waitMs;
  let done = ranges;
  while (missing() && readResult.complete && performance.now() < waitUntil) {
    await sleep(1000);
    const more = await withAdmin(kafka, (admin) => extendRanges(admin, done));
    if (more.length === 0) continue;
    readResult = await read(more, 'waiting for missing records');
    records += readResult.read;
    done = mergeRanges(done, more);
    analysis = analyzeFleets(tally, fleetInputs);
  }

  const deadLetters: DeadLetterResult | null = checkDeadLetters
    ? { topic: targets.deadLetterTopic, expected: invalidAcked, ...dead }
    : null;
  const integrity = !opts.integrity
    ? 'off'
    : integrityUsable && tally.regenerationMismatch === 0
      ? 'checked'
      : 'unavailable';
  const { verdict, reasons } = judge(
    analysis.fleets,
    deadLetters,
    readResult.complete,
    tally,
    integrity === 'checked',
    report.config.qos,
  );
  return {
    format: RESULT_FORMAT,
    runId: report.runId,
    qos: report.config.qos,
    brokers,
    read: {
      complete: readResult.complete,
      records,
      foreign: tally.foreign,
      undecodable: tally.undecodable,
      durationMs: Math.round(performance.now() - started),
      from: opts.from,
    },
    integrity,
    fleets: analysis.fleets,
    deadLetters,
    gateways,
    findings: analysis.findings.slice(0, MAX_FINDINGS),
    devicesWithFindings: analysis.findings.length,
    verdict,
    reasons,
    exitCode: verdict === 'pass' ? 0 : verdict === 'fail' ? 1 : 3,
  };
}

function mergeRanges(done: readonly PartitionRange[], more: readonly PartitionRange[]): PartitionRange[] {
  return done.map((r) => {
    const m = more.find((x) => x.topic === r.topic && x.partition === r.partition);
    return m === undefined ? r : { ...r, end: m.end };
  });
}
