// Reading the fleet topics back, from the run's start to the end offsets captured when verify
// began — so it stops by itself instead of waiting for records that will never come. A fresh
// consumer group (deleted afterwards) commits nothing; partitions are sought to where they stand
// when the group forms, and records outside [position, end) are skipped either way, so a
// rebalance can never make a record count twice.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';

export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  /** First offset to read. */
  readonly start: number;
  /** Offset after the last one to read (the high watermark when captured). */
  readonly end: number;
}

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, Buffer | string | undefined>>;
}

/**
 * The ranges to read: from the first record appended at or after `fromMs` (null: the beginning)
 * up to each partition's current high watermark. Missing topics give no ranges.
 */
export async function planRanges(
  admin: Admin,
  topics: readonly string[],
  fromMs: number | null,
): Promise<PartitionRange[]> {
  const existing = new Set(await admin.listTopics());
  const out: PartitionRange[] = [];
  for (const topic of topics) {
    if (!existing.has(topic)) continue;
    const ends = await admin.fetchTopicOffsets(topic);
    const starts =
      fromMs === null
        ? null
        : new Map(
            (await admin.fetchTopicOffsetsByTimestamp(topic, fromMs)).map((p) => [
              p.partition,
              Number(p.offset),
            ]),
          );
    for (const p of ends) {
      const end = Number(p.high);
      const low = Number(p.low);
      const byTime = starts?.get(p.partition);
      const start = byTime === undefined || byTime < 0 ? low : Math.max(low, Math.min(byTime, end));
      out.push({ topic, partition: p.partition, start, end });
    }
  }
  return out;
}

/** The same partitions, from where `done` ended to the current high watermarks. */
export async function extendRanges(admin: Admin, done: readonly PartitionRange[]): Promise<PartitionRange[]> {
  const out: PartitionRange[] = [];
  for (const topic of new Set(done.map((r) => r.topic))) {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    for (const r of done) {
      if (r.topic !== topic) continue;
      const end = ends.get(r.partition) ?? r.end;
      if (end > r.end) out.push({ topic, partition: r.partition, start: r.end, end });
    }
  }
  return out;
}

export interface ReadProgress {
  readonly read: number;
  readonly total: number;
}

export interface ReadResult {
  readonly read: number;
  /** Every range was read to its end. */
  readonly complete: boolean;
}

/** Reads the ranges; calls `onRecord` for each record, in offset order per partition. */
export async function readRanges(
  kafka: Kafka,
  ranges: readonly PartitionRange[],
  onRecord: (r: KafkaRecord) => void,
  opts: { timeoutMs: number; onProgress?: (p: ReadProgress) => void; progressEveryMs?: number },
): Promise<ReadResult> {
  const pending = new Map<string, { range: PartitionRange; position: number }>();
  let total = 0;
  for (const r of ranges) {
    if (r.end <= r.start) continue;
    pending.set(`${r.topic}\u0000${r.partition}`, { range: r, position: r.start });
    total += r.end - r.start;
  }
  if (pending.size === 0) return { read: 0, complete: true };

  let read = 0;
  let finish: (complete: boolean) => void = () => {};
  const finished = new Promise<boolean>((resolve) => {
    finish = resolve;
  });
  const groupId = `weir-verify-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, maxBytes: 50 * 1024 * 1024 });
  const topics = [...new Set([...pending.values()].map((p) => p.range.topic))];
  const progress = setInterval(() => opts.onProgress?.({ read, total }), opts.progressEveryMs ?? 1000);
  const timeout = setTimeout(() => finish(false), opts.timeoutMs);
  // On joining (and re-joining after a rebalance) continue each partition where it stands.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const { range, position } of pending.values()) {
      if (position > 0)
        consumer.seek({ topic: range.topic, partition: range.partition, offset: String(position) });
    }
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}\u0000${batch.partition}`;
        const p = pending.get(key);
        if (p === undefined) return;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset < p.position || offset >= p.range.end) continue;
          onRecord({
            topic: batch.topic,
            partition: batch.partition,
            offset,
            key: m.key,
            value: m.value,
            timestamp: Number(m.timestamp),
            headers: (m.headers ?? {}) as Record<string, Buffer | string | undefined>,
          });
          read++;
          p.position = offset + 1;
        }
        if (p.position >= p.range.end) {
          pending.delete(key);
          if (pending.size === 0) finish(true);
        }
      },
    });
    const complete = await finished;
    opts.onProgress?.({ read, total });
    return { read, complete };
  } finally {
    clearInterval(progress);
    clearTimeout(timeout);
    await consumer.disconnect().catch(() => {});
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => {})
      .finally(() => admin.disconnect().catch(() => {}));
  }
}
