// The batcher: per Kafka topic, records accumulate in an open batch that closes on the first of
// maxRecords, maxBytes or lingerMs. Closed batches wait in one FIFO for the forwarder.
//
// Memory bound: every record counts its bytes from being added until its batch is completed.
// When the total would pass maxBufferedBytes, `add` parks the record in a FIFO of waiters and
// calls its `onAdmitted` only when space frees up — the source calls back late and the device
// sees TCP backpressure. Waiters are admitted strictly in order, and a record given to `add`
// never overtakes a waiter, so records of one device keep their order. A record larger than the
// whole bound is admitted alone when the buffer is empty, so nothing can wait forever.
// `addWithoutWaiting` is for callers that keep within the bound themselves (the spool pump).
//
// Pure logic apart from timers: no I/O. The forwarder takes batches with `takeReady` and reports
// each one back with `complete` (delivered or given up) or `requeue` (try again, same order):
// BatchSource in contracts.ts. With the spool, the pump feeds it: RecordBuffer.
import type { BatchSource, OutboundRecord, PendingBatch, RecordBuffer, Settle } from '../contracts.ts';

export interface BatcherOptions {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly lingerMs: number;
  readonly maxBufferedBytes: number;
  /**
   * Bytes a later stage adds to each record value before Kafka sees it (5 with the Confluent
   * wire format), counted against maxBytes so a full batch stays within the broker's limit.
   */
  readonly framingBytesPerRecord?: number;
}

/** The batch of a topic still taking records (a PendingBatch once it closes). */
interface OpenBatch {
  readonly topic: string;
  readonly records: OutboundRecord[];
  readonly onDurable: Array<Settle | null>;
  bytes: number;
}

interface Waiter {
  readonly topic: string;
  readonly record: OutboundRecord;
  readonly bytes: number;
  readonly onAdmitted: Settle | null;
  readonly onDurable: Settle | null;
}

/**
 * What Kafka's record format adds to each record beyond its key, value and headers (length,
 * attributes, timestamp and offset deltas, key, value and header lengths as varints — for weir's
 * three headers about 28 bytes; rounded up for a few more), and to each record batch (its 61-byte
 * header, rounded up). `maxBytes` bounds the batch as Kafka will measure it against the broker's
 * message.max.bytes, so a batch filled to it is never refused as too large.
 */
export const KAFKA_RECORD_OVERHEAD_BYTES = 40;
export const KAFKA_BATCH_OVERHEAD_BYTES = 128;

/** A batch's size in Kafka's record format, estimated from above. */
export function kafkaBatchBytes(records: number, bytes: number, framingBytesPerRecord = 0): number {
  return KAFKA_BATCH_OVERHEAD_BYTES + bytes + records * (KAFKA_RECORD_OVERHEAD_BYTES + framingBytesPerRecord);
}

export function recordBytes(record: OutboundRecord): number {
  let n = record.value.length + (record.key?.length ?? 0);
  for (const k in record.headers) {
    const value = record.headers[k]!;
    if (Buffer.isBuffer(value)) n += k.length + value.length;
    else for (const v of value) n += k.length + v.length; // a name sent more than once: each is a header
  }
  return n;
}

export class Batcher implements BatchSource, RecordBuffer {
  readonly #opts: BatcherOptions;
  readonly #open = new Map<string, { batch: OpenBatch; timer: NodeJS.Timeout | null }>();
  readonly #ready: PendingBatch[] = [];
  readonly #waiters: Waiter[] = [];
  #buffered = 0;
  #onReady: () => void = () => {};
  #onDrained: (() => void) | null = null;
  #spaceWaiters: Array<{ below: number; resolve: () => void }> = [];

  constructor(opts: BatcherOptions) {
    this.#opts = opts;
  }

  /** Called (synchronously) whenever a batch becomes ready. */
  set onReady(fn: () => void) {
    this.#onReady = fn;
  }

  /** Bytes held from admission until completion. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  get waitingCount(): number {
    return this.#waiters.length;
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  /**
   * Adds a record. `onAdmitted` is called once the record is inside the memory bound (at once
   * when there is room); `onDurable` when its batch completes. Either may be null.
   */
  add(topic: string, record: OutboundRecord, onAdmitted: Settle | null, onDurable: Settle | null): void {
    const bytes = recordBytes(record);
    if (this.#waiters.length > 0 || !this.#fits(bytes)) {
      this.#waiters.push({ topic, record, bytes, onAdmitted, onDurable });
      return;
    }
    this.#append(topic, record, bytes, onDurable);
    onAdmitted?.();
  }

  /**
   * Adds a record at once: its bytes count, but it neither waits for room nor queues behind
   * records that wait; the caller keeps memory bounded. Used by the spool pump (which reads only
   * what fits) and for the dead letters of a batch Kafka refused (in the place of its records).
   */
  addWithoutWaiting(topic: string, record: OutboundRecord, onDurable: Settle | null): void {
    this.#append(topic, record, recordBytes(record), onDurable);
  }

  /**
   * Removes and returns the oldest ready batch of each topic. One batch per topic per send:
   * clients merge the batches of a partition into one record batch, which must stay within the
   * broker's message.max.bytes (batch.maxBytes keeps each batch below it).
   */
  takeReady(): PendingBatch[] {
    const taken: PendingBatch[] = [];
    const rest: PendingBatch[] = [];
    const topics = new Set<string>();
    for (const batch of this.#ready) {
      if (topics.has(batch.topic)) {
        rest.push(batch);
      } else {
        topics.add(batch.topic);
        taken.push(batch);
      }
    }
    this.#ready.length = 0;
    this.#ready.push(...rest);
    return taken;
  }

  /** Puts batches back at the front of the ready queue, in the given order, to be sent again. */
  requeue(batches: readonly PendingBatch[]): void {
    this.#ready.unshift(...batches);
  }

  /** Resolves once fewer than `bytes` are buffered. */
  whenBelow(bytes: number): Promise<void> {
    if (this.#buffered < bytes) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push({ below: bytes, resolve }));
  }

  /** A batch is done: its records leave the memory bound and their callbacks run. */
  complete(batch: PendingBatch, err?: Error): void {
    this.#buffered -= batch.bytes;
    for (const settle of batch.onDurable) settle?.(err);
    this.#admitWaiters();
    if (this.#spaceWaiters.length > 0) {
      const still = [];
      for (const w of this.#spaceWaiters) {
        if (this.#buffered < w.below) w.resolve();
        else still.push(w);
      }
      this.#spaceWaiters = still;
    }
    if (this.#buffered === 0 && this.#onDrained !== null) this.#onDrained();
  }

  /** Closes every open batch now (shutdown, or an explicit flush). */
  flushAll(): void {
    for (const topic of [...this.#open.keys()]) this.#close(topic);
  }

  /** Resolves when nothing is buffered any more (waiters included). */
  drained(): Promise<void> {
    if (this.#buffered === 0 && this.#waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onDrained = () => {
        if (this.#waiters.length === 0) {
          this.#onDrained = null;
          resolve();
        }
      };
    });
  }

  /**
   * Gives up on everything still held (shutdown past its deadline): waiters and queued batches
   * are settled with `err`. Returns how many records were given up and how many of them had
   * already been settled on admission (QoS 0 — those are lost and must be counted).
   */
  abandon(err: Error): { records: number; alreadySettled: number } {
    let records = 0;
    let alreadySettled = 0;
    for (const w of this.#waiters.splice(0)) {
      records++;
      w.onAdmitted?.(err);
      w.onDurable?.(err);
    }
    this.flushAll();
    for (const batch of this.#ready.splice(0)) {
      records += batch.records.length;
      for (const s of batch.onDurable) if (s === null) alreadySettled++;
      this.complete(batch, err);
    }
    return { records, alreadySettled };
  }

  #fits(bytes: number): boolean {
    return this.#buffered === 0 || this.#buffered + bytes <= this.#opts.maxBufferedBytes;
  }

  #append(topic: string, record: OutboundRecord, bytes: number, onDurable: Settle | null): void {
    const { maxRecords, maxBytes, lingerMs, framingBytesPerRecord = 0 } = this.#opts;
    let open = this.#open.get(topic);
    if (
      open !== undefined &&
      open.batch.records.length > 0 &&
      kafkaBatchBytes(open.batch.records.length + 1, open.batch.bytes + bytes, framingBytesPerRecord) >
        maxBytes
    ) {
      this.#close(topic);
      open = undefined;
    }
    if (open === undefined) {
      const batch: OpenBatch = { topic, records: [], onDurable: [], bytes: 0 };
      const timer = setTimeout(() => this.#close(topic), lingerMs);
      open = { batch, timer };
      this.#open.set(topic, open);
    }
    const { batch } = open;
    batch.records.push(record);
    batch.onDurable.push(onDurable);
    batch.bytes += bytes;
    this.#buffered += bytes;
    if (
      batch.records.length >= maxRecords ||
      kafkaBatchBytes(batch.records.length, batch.bytes, framingBytesPerRecord) >= maxBytes
    )
      this.#close(topic);
  }

  #close(topic: string): void {
    const open = this.#open.get(topic);
    if (open === undefined) return;
    if (open.timer !== null) clearTimeout(open.timer);
    this.#open.delete(topic);
    this.#ready.push(open.batch);
    this.#onReady();
  }

  #admitWaiters(): void {
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0]!;
      if (!this.#fits(w.bytes)) return;
      this.#waiters.shift();
      this.#append(w.topic, w.record, w.bytes, w.onDurable);
      w.onAdmitted?.();
    }
  }
}
