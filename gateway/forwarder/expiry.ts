// MQTT 5 message expiry, honoured at the last moment before Kafka: a record whose expiry has
// passed when its batch is about to be sent is not sent. The check is here, not where records
// enter the batcher, because a record can wait in a batch for as long as Kafka is down; the spool
// keeps the expiry (spool/disk/format.ts), so it holds across a restart too.
import type { PendingBatch } from '../contracts.ts';

/**
 * The batch without its records whose expiry is at or before `now`, and how many those were.
 * Their `onDurable` runs at once, without an error: each such record is done — a spooled one
 * was acknowledged to its device after the fsync, and its spool entry must be let go so the
 * spool moves on. The batch keeps its byte count, which leaves the memory bound when it completes.
 * Returns `batch` itself when nothing expired (the usual case: one pass, nothing allocated).
 */
export function withoutExpired(batch: PendingBatch, now: number): { batch: PendingBatch; expired: number } {
  const first = batch.records.findIndex((r) => r.expiresAt !== undefined && r.expiresAt <= now);
  if (first === -1) return { batch, expired: 0 };
  const records = batch.records.slice(0, first);
  const onDurable = batch.onDurable.slice(0, first);
  let expired = 0;
  for (let i = first; i < batch.records.length; i++) {
    const record = batch.records[i]!;
    if (record.expiresAt !== undefined && record.expiresAt <= now) {
      expired++;
      batch.onDurable[i]?.();
    } else {
      records.push(record);
      onDurable.push(batch.onDurable[i]!);
    }
  }
  return { batch: { ...batch, records, onDurable }, expired };
}
