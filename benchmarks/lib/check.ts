// What reached Kafka, by `weir verify`'s own check: the topic's records between two offsets are
// read back (device-sim/verify/reader.ts), decoded with the route's schema (or as the JSON a
// naive bridge forwards, or Telegraf's JSON metric made of it), tallied per device and compared
// with the sequence numbers each device sent and had acknowledged (device-sim/verify/analysis.ts).
// Groups (e.g. the steps of a run) are separate publisher reports whose devices have distinct id
// prefixes.
import { kafkaClient } from '../../device-sim/kafka.ts';
import type { SimReport } from '../../device-sim/report.ts';
import { addCounts, analyzeDevice, type Counts, emptyCounts } from '../../device-sim/verify/analysis.ts';
import { TopicDecoder } from '../../device-sim/verify/decoders.ts';
import { type Percentiles, Samples } from '../../device-sim/verify/percentiles.ts';
import { type KafkaRecord, type PartitionRange, readRanges } from '../../device-sim/verify/reader.ts';
import { Tally } from '../../device-sim/verify/tally.ts';

export interface GroupResult extends Counts {
  /** Kafka append time − the device's send time (`ts`), ms, over every record of the group. */
  readonly latencyMs: Percentiles | null;
  /** Records (first copies) Kafka appended in each second after the group's start. */
  readonly appendsPerSecond: number[];
  readonly lastAppendMs: number | null;
}

export interface CheckResult {
  readonly complete: boolean;
  readonly records: number;
  readonly undecodable: number;
  readonly groups: GroupResult[];
}

export interface CheckOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Offsets per partition before the first group published, and after the last one was delivered. */
  readonly from: ReadonlyMap<number, number>;
  readonly to: ReadonlyMap<number, number>;
  readonly reports: readonly SimReport[];
  /** Avro with this schema (weir), or JSON: the payload as sent (the naive bridge) or a Telegraf metric. */
  readonly schemaPath: string | null;
  readonly timeoutMs?: number;
}

export async function checkInKafka(o: CheckOptions): Promise<CheckResult> {
  const first = o.reports[0]!;
  const merged: SimReport = { ...first, devices: o.reports.flatMap((r) => r.devices) };
  const tally = new Tally(merged, { integrity: false });
  const groupOf = new Map<string, number>();
  o.reports.forEach((r, i) => {
    for (const d of r.devices) groupOf.set(d.deviceId, i);
  });
  const latency = o.reports.map(() => new Samples());
  const perSecond = o.reports.map(() => [] as number[]);
  const lastAppend = o.reports.map(() => null as number | null);
  const seen = o.reports.map(() => new Set<string>());
  const decoder = o.schemaPath === null ? null : new TopicDecoder(o.schemaPath);
  const fields = decoder?.fieldNames ?? new Set<string>();

  const onRecord = (r: KafkaRecord) => {
    let rec: Record<string, unknown> | null = null;
    if (r.value !== null) {
      if (decoder !== null) {
        const fp = r.headers['avro-schema-fingerprint'];
        rec = decoder.decode(r.value, fp === undefined ? undefined : String(fp));
      } else {
        try {
          const json = JSON.parse(r.value.toString());
          // A Telegraf metric ({fields, tags, name, timestamp}) carries the payload's fields.
          const fields = typeof json?.fields === 'object' && json.fields !== null ? json.fields : json;
          rec = { ...fields, deviceId: r.key?.toString() };
        } catch {}
      }
    }
    if (rec === null || typeof rec['deviceId'] !== 'string' || typeof rec['ts'] !== 'number') {
      tally.undecodable++;
      return;
    }
    const deviceId = rec['deviceId'];
    const seq = typeof rec['seq'] === 'number' ? rec['seq'] : null;
    tally.add(
      {
        deviceId,
        key: r.key?.toString() ?? null,
        seq,
        ts: rec['ts'],
        receivedAt: null,
        appendTime: null,
        record: rec,
      },
      fields,
    );
    const g = groupOf.get(deviceId);
    if (g === undefined) return;
    latency[g]!.add(r.timestamp - rec['ts']);
    const key = `${deviceId}/${seq}`;
    if (seen[g]!.has(key)) return;
    seen[g]!.add(key);
    const second = Math.max(0, Math.floor((r.timestamp - o.reports[g]!.startedAtMs) / 1000));
    const ps = perSecond[g]!;
    while (ps.length <= second) ps.push(0);
    ps[second]!++;
    lastAppend[g] = Math.max(lastAppend[g] ?? 0, r.timestamp);
  };

  const ranges: PartitionRange[] = [...o.to].map(([partition, end]) => ({
    topic: o.topic,
    partition,
    start: o.from.get(partition) ?? 0,
    end,
  }));
  const kafka = kafkaClient(o.brokers, 'weir-bench-check');
  const read = await readRanges(kafka, ranges, onRecord, { timeoutMs: o.timeoutMs ?? 120_000 });

  const counts = o.reports.map(() => emptyCounts());
  for (const t of tally.devices.values()) {
    addCounts(counts[groupOf.get(t.device.deviceId)!]!, analyzeDevice(t).counts);
  }
  return {
    complete: read.complete,
    records: read.read,
    undecodable: tally.undecodable,
    groups: counts.map((c, i) => ({
      ...c,
      latencyMs: latency[i]!.percentiles(),
      appendsPerSecond: perSecond[i]!,
      lastAppendMs: lastAppend[i]!,
    })),
  };
}
