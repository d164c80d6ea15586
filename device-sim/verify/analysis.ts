// From what Kafka holds to a verdict. Per device, against the report:
//   lost          acknowledged sequence numbers that are not in Kafka — the failure that counts
//   duplicates    records of a sequence number already seen (allowed after resends; counted)
//   out of order  first copies of a sequence number arriving after a higher one
//   corrupted     records whose values differ from the reading the device sent
//   unexpected    sequence numbers the device never sent
// Unacknowledged readings (in flight when the run ended, or QoS 0) may or may not be in Kafka:
// counted, never called lost.
import type { FleetName } from '../fleets/fleet.ts';
import { type SeqRangeList, SeqSet } from '../seq-ranges.ts';
import type { Percentiles } from './percentiles.ts';
import type { DeviceTally, FleetTally, Tally } from './tally.ts';

export interface DeviceFindings {
  readonly deviceId: string;
  readonly fleet: FleetName;
  readonly lost: SeqRangeList;
  readonly lostCount: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  readonly corrupted: number;
  readonly corruptFields: readonly string[];
  readonly unexpected: number;
}

export interface Counts {
  devices: number;
  sent: number;
  acked: number;
  /** Distinct sequence numbers found (of those sent). */
  received: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  outOfOrderDevices: number;
  unackedReceived: number;
  unackedMissing: number;
  corrupted: number;
  checked: number;
  unexpected: number;
}

export interface FleetResult extends Counts {
  readonly fleet: FleetName;
  readonly topic: string;
  /** CreateTime or LogAppendTime; null when the topic does not exist. */
  readonly timestampType: string | null;
  readonly records: number;
  readonly noSeq: number;
  readonly keyMismatch: number;
  readonly latency: {
    /** receivedAt − ts: device to gateway. */
    readonly gateway: Percentiles | null;
    /** Kafka append time − ts: device to Kafka (only on LogAppendTime topics). */
    readonly append: Percentiles | null;
  };
}

export function emptyCounts(): Counts {
  return {
    devices: 0,
    sent: 0,
    acked: 0,
    received: 0,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    outOfOrderDevices: 0,
    unackedReceived: 0,
    unackedMissing: 0,
    corrupted: 0,
    checked: 0,
    unexpected: 0,
  };
}

export function analyzeDevice(t: DeviceTally): { findings: DeviceFindings; counts: Counts } {
  const d = t.device;
  const acked = SeqSet.fromRanges(d.acked);
  const seen = new SeqSet();
  let maxSeen = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let unexpected = 0;
  for (const seq of t.seqs) {
    if (seq < 1 || seq > d.sent || !Number.isInteger(seq)) {
      unexpected++;
      continue;
    }
    if (!seen.add(seq)) {
      duplicates++;
      continue;
    }
    if (seq < maxSeen) outOfOrder++;
    else maxSeen = seq;
  }
  const lost = new SeqSet();
  for (const [first, last] of acked.ranges()) {
    for (let n = first; n <= last; n++) if (!seen.has(n)) lost.add(n);
  }
  const receivedAcked = acked.size - lost.size;
  const unackedReceived = seen.size - receivedAcked;
  const counts: Counts = {
    devices: 1,
    sent: d.sent,
    acked: acked.size,
    received: seen.size,
    lost: lost.size,
    duplicates,
    outOfOrder,
    outOfOrderDevices: outOfOrder > 0 ? 1 : 0,
    unackedReceived,
    unackedMissing: d.sent - acked.size - unackedReceived,
    corrupted: t.corrupted,
    checked: t.checked,
    unexpected,
  };
  return {
    findings: {
      deviceId: d.deviceId,
      fleet: d.fleet,
      lost: lost.ranges(),
      lostCount: lost.size,
      duplicates,
      outOfOrder,
      corrupted: t.corrupted,
      corruptFields: [...t.corruptFields].sort(),
      unexpected,
    },
    counts,
  };
}

export function addCounts(into: Counts, c: Counts): void {
  for (const k of Object.keys(into) as Array<keyof Counts>) into[k] += c[k];
}

export function hasFinding(f: DeviceFindings): boolean {
  return f.lostCount + f.duplicates + f.outOfOrder + f.corrupted + f.unexpected > 0;
}

export interface FleetInputs {
  readonly fleet: FleetName;
  readonly topic: string;
  readonly timestampType: string | null;
}

export function analyzeFleets(
  tally: Tally,
  fleets: readonly FleetInputs[],
): { fleets: FleetResult[]; findings: DeviceFindings[] } {
  const findings: DeviceFindings[] = [];
  const byFleet = new Map<FleetName, Counts>();
  for (const t of tally.devices.values()) {
    const { findings: f, counts } = analyzeDevice(t);
    if (hasFinding(f)) findings.push(f);
    const into = byFleet.get(t.device.fleet) ?? emptyCounts();
    addCounts(into, counts);
    byFleet.set(t.device.fleet, into);
  }
  const results = fleets.map((f): FleetResult => {
    const ft: FleetTally = tally.fleets.get(f.fleet)!;
    return {
      fleet: f.fleet,
      topic: f.topic,
      timestampType: f.timestampType,
      ...(byFleet.get(f.fleet) ?? emptyCounts()),
      records: ft.records,
      noSeq: ft.noSeq,
      keyMismatch: ft.keyMismatch,
      latency: { gateway: ft.gatewayLatency.percentiles(), append: ft.appendLatency.percentiles() },
    };
  });
  findings.sort(
    (a, b) => b.lostCount - a.lostCount || b.corrupted - a.corrupted || a.deviceId.localeCompare(b.deviceId),
  );
  return { fleets: results, findings };
}
