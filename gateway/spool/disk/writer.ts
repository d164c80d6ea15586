// The writer: takes appends, numbers them (invariant 1 in spool.ts) and writes them to the
// active segment in groups, one write per group; at the default policy one fsync at a time covers
// every group written before it began, and the durable callbacks run only after it (group
// commit, invariant 3); the next group is written while it runs. It rolls to a new segment at
// segmentBytes, keeps bytes on disk within maxBytes by the whenFull policy (invariant 6), and on a
// full file system fails the group cleanly, waits while the ledger writes the checkpoint in the
// reserve's space, and starts afresh once everything written is delivered (invariant 8).
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import type { OutboundRecord, Settle } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { frameSize, SEGMENT_HEADER_BYTES, SegmentEncoder } from './format.ts';
import type { WrittenGroup } from './reader.ts';
import { createSegmentFile, type Segment, type SegmentList } from './segments.ts';
import type { DiskSpoolOptions } from './spool.ts';

/** What the writer asks of the reader and the ledger (spool.ts connects them). */
export interface WriterPeers {
  /** A group was written (the reader keeps it in its tail, and wakes). */
  appended(group: WrittenGroup): void;
  /** Every segment was deleted and `seg` begun: the reader starts there. */
  restarted(seg: Segment): void;
  /** Every record with seq ≤ this is done and checkpointed. */
  persistedSeq(): number;
  /** A write failed: delivered segments may hold the space, so checkpoint now if it moved. */
  writeFailed(): void;
  /** dropOldest: gives up the oldest segment, which is not the only one. */
  dropOldest(): void;
}

/** Where the writer starts: the active segment, open for writing, and the last seq on disk. */
export interface WriterStart {
  readonly active: Segment;
  readonly handle: FileHandle;
  readonly writtenSeq: number;
}

interface PendingAppend {
  readonly topic: string;
  readonly record: OutboundRecord;
  readonly bytes: number;
  readonly onDurable: Settle | null;
}

interface Waiter extends PendingAppend {
  readonly onAdmitted: Settle | null;
}

interface EncodedGroup {
  readonly frames: Buffer;
  readonly sizes: number[];
}

interface DictionaryMark {
  readonly segment: Segment;
  readonly topics: number;
  readonly headers: number;
  readonly origins: number;
}

export class SpoolWriter {
  readonly #o: DiskSpoolOptions;
  readonly #segments: SegmentList;
  readonly #peers: WriterPeers;
  #active: Segment;
  #handle: FileHandle;
  /** Encodes the active segment's frames, referring to what its earlier frames defined. */
  #encoder: SegmentEncoder;
  /** Last seq written to a file (not necessarily fsync'd yet). */
  #writtenSeq: number;

  #pending: PendingAppend[] = [];
  #pendingBytes = 0;
  #waiters: Waiter[] = [];
  /** The write loop: the last one started, and whether it still runs (cleared by the loop itself). */
  #writing: Promise<void> | null = null;
  #writerRunning = false;
  #unsynced: Settle[] = [];
  #syncTimer: NodeJS.Timeout | null = null;
  #syncDue = false;
  /** The fsync running, if any (see #requestSync), and whether another is due after it. */
  #syncing: Promise<void> | null = null;
  #syncAgain = false;
  #closed = false;

  // Full file system (invariant 8)
  /** Writes failed in a row; 0 while writing works. */
  #writeFailures = 0;
  /** Set while the ledger writes the checkpoint in the reserve's space: the writer waits for it. */
  #held: Promise<void> | null = null;
  /** The group being written (and fsync'd), if any. */
  #groupInFlight: Promise<void> | null = null;

  constructor(opts: DiskSpoolOptions, segments: SegmentList, start: WriterStart, peers: WriterPeers) {
    this.#o = opts;
    this.#segments = segments;
    this.#peers = peers;
    this.#active = start.active;
    this.#handle = start.handle;
    this.#encoder = new SegmentEncoder(start.active.dict); // the dictionary recovery's scan rebuilt
    this.#writtenSeq = start.writtenSeq;
  }

  /** Last seq written to a file (not necessarily fsync'd yet). */
  get writtenSeq(): number {
    return this.#writtenSeq;
  }

  /** The segment being appended to. */
  get active(): Segment {
    return this.#active;
  }

  /** Closing: no appends are taken. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Appends wait for space, or writes fail: space is wanted as soon as it can be freed. */
  get wantsSpace(): boolean {
    return this.#waiters.length > 0 || this.#writeFailures > 0;
  }

  /** Appends waiting for space. */
  get waitingAppends(): number {
    return this.#waiters.length;
  }

  /** Nothing appended waits to be written. */
  get idle(): boolean {
    return this.#pending.length === 0 && this.#waiters.length === 0;
  }

  /** See DiskSpool.append. */
  append(topic: string, record: OutboundRecord, onAdmitted: Settle | null, onDurable: Settle | null): void {
    if (this.#closed) {
      const err = new WeirError('WEIR_SPOOL_CLOSED', 'spool is closed');
      onAdmitted?.(err);
      onDurable?.(err);
      return;
    }
    const bytes = frameSize(topic, record);
    if (this.#waiters.length > 0 || !this.#fits(bytes)) {
      if (this.#o.whenFull === 'dropNewest') {
        this.#o.events.dropped(1);
        onAdmitted?.();
        onDurable?.();
        return;
      }
      if (
        this.#o.whenFull === 'dropOldest' &&
        this.#waiters.length === 0 &&
        this.#dropOldestUntilFits(bytes)
      ) {
        this.#admit({ topic, record, bytes, onDurable }, onAdmitted);
        return;
      }
      this.#waiters.push({ topic, record, bytes, onDurable, onAdmitted });
      return;
    }
    this.#admit({ topic, record, bytes, onDurable }, onAdmitted);
  }

  /** Admits the appends waiting for space, in order, as far as they fit now. */
  admitWaiters(): void {
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0]!;
      if (!this.#fits(w.bytes)) {
        if (this.#o.whenFull !== 'dropOldest' || !this.#dropOldestUntilFits(w.bytes)) return;
      }
      this.#waiters.shift();
      this.#admit(w, w.onAdmitted);
    }
  }

  /**
   * Holds the writer (invariant 8): the group in flight and the fsync running, if any, are
   * finished first; the next group waits until the function returned is called.
   */
  async hold(): Promise<() => void> {
    let release!: () => void;
    this.#held = new Promise<void>((resolve) => (release = resolve));
    await this.#groupInFlight;
    // Its fsync too (it may still allocate blocks the file system deferred).
    while (this.#syncing !== null) await this.#syncing;
    return () => {
      this.#held = null;
      release();
    };
  }

  /**
   * Closing: takes no more appends, fails those waiting for space (they were not acknowledged),
   * writes the rest and fsyncs.
   */
  async stop(): Promise<void> {
    this.#closed = true;
    const err = new WeirError('WEIR_SPOOL_CLOSED', 'spool closed before the record could be written');
    for (const w of this.#waiters.splice(0)) {
      w.onAdmitted?.(err);
      w.onDurable?.(err);
    }
    while (this.#writerRunning) await this.#writing;
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    while (this.#syncing !== null) await this.#syncing;
    await this.#sync();
  }

  /** Closes the active segment's file. */
  async close(): Promise<void> {
    await this.#handle.close();
  }

  #fits(bytes: number): boolean {
    // Count the headers of the segments the pending bytes will roll into (one extra: groups
    // split at record boundaries, leaving slack at the end of each segment).
    const ahead = this.#active.size + this.#pendingBytes + bytes;
    const rolls = Math.ceil(ahead / (this.#o.segmentBytes - SEGMENT_HEADER_BYTES));
    return (
      this.#segments.bytes + this.#pendingBytes + bytes + rolls * SEGMENT_HEADER_BYTES <= this.#o.maxBytes
    );
  }

  #admit(p: PendingAppend, onAdmitted: Settle | null): void {
    this.#pending.push(p);
    this.#pendingBytes += p.bytes;
    onAdmitted?.();
    if (!this.#writerRunning) {
      this.#writerRunning = true;
      this.#writing = this.#writeLoop();
    }
  }

  /** Deletes oldest segments (never the active one) until `bytes` fit. Returns whether they do. */
  #dropOldestUntilFits(bytes: number): boolean {
    while (!this.#fits(bytes) && this.#segments.count > 1) this.#peers.dropOldest();
    return this.#fits(bytes);
  }

  async #writeLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.#pending.length === 0) {
          // In the same step as this last look at #pending: an append after it starts a new loop.
          this.#writerRunning = false;
          return;
        }
        await this.#writeGroup();
      }
    } catch (err) {
      this.#writerRunning = false;
      throw err;
    }
  }

  /** Writes the next group of pending appends (and fsyncs it, at the default policy). */
  async #writeGroup(): Promise<void> {
    // A group fills the active segment up to segmentBytes (at least one record per group);
    // what does not fit waits for the next round, after a roll.
    const rolls =
      this.#active.size > SEGMENT_HEADER_BYTES &&
      this.#active.size + this.#pending[0]!.bytes > this.#o.segmentBytes;
    const room = this.#o.segmentBytes - (rolls ? SEGMENT_HEADER_BYTES : this.#active.size);
    let count = 0;
    let groupBytes = 0;
    while (
      count < this.#pending.length &&
      (count === 0 || groupBytes + this.#pending[count]!.bytes <= room)
    ) {
      groupBytes += this.#pending[count]!.bytes;
      count++;
    }
    const group = this.#pending.splice(0, count);
    const wantRoll =
      this.#active.size > SEGMENT_HEADER_BYTES &&
      (this.#active.size + groupBytes > this.#o.segmentBytes ||
        (this.#o.whenFull === 'dropOldest' && this.#segments.count === 1 && !this.#fits(0)));
    // Held while the ledger uses the reserve's space on a full file system (invariant 8).
    while (this.#held !== null) await this.#held;
    let groupDone!: () => void;
    this.#groupInFlight = new Promise<void>((resolve) => (groupDone = resolve));
    let written: EncodedGroup | null = null;
    const dictMark = this.#dictionaryMark();
    try {
      try {
        if (this.#segments.count === 0) await this.#startFresh();
        else if (this.#writeFailures > 0 && this.#peers.persistedSeq() >= this.#writtenSeq)
          await this.#startFresh();
        else if (wantRoll) await this.#roll();
        written = this.#encoder.encode(this.#writtenSeq + 1, group, groupBytes);
        await this.#writeAll([written.frames], this.#active.size);
      } catch (err) {
        this.#pendingBytes -= groupBytes;
        await this.#handle.truncate(this.#active.size).catch(() => {});
        this.#forgetDefinitions(dictMark);
        this.#writeFailed(err as Error);
        const e = new WeirError('WEIR_SPOOL_WRITE', 'writing to the spool failed', {
          cause: err,
        });
        for (const p of group) p.onDurable?.(e);
        return;
      }
      this.#pendingBytes -= groupBytes;
      this.#writeWorks();
      const { frames, sizes } = written!;
      const segment = this.#active;
      const offset = segment.size;
      const firstSeq = this.#writtenSeq + 1;
      this.#segments.grow(segment, frames.length);
      this.#writtenSeq += group.length;
      this.#peers.appended({ records: group, sizes, bytes: frames.length, firstSeq, segment, offset });
      for (const p of group) if (p.onDurable !== null) this.#unsynced.push(p.onDurable);
      if (this.#o.fsyncIntervalMs === 0 || this.#syncDue) {
        this.#syncDue = false;
        this.#requestSync();
      } else {
        this.#syncTimer ??= setTimeout(() => this.#syncTimerFired(), this.#o.fsyncIntervalMs);
      }
    } finally {
      this.#groupInFlight = null;
      groupDone();
    }
    this.admitWaiters();
  }

  async #writeAll(frames: Buffer[], position: number): Promise<void> {
    let remaining = frames;
    let pos = position;
    while (remaining.length > 0) {
      const { bytesWritten } = await this.#handle.writev(remaining, pos);
      pos += bytesWritten;
      remaining = skipBytes(remaining, bytesWritten);
    }
  }

  /** Interval mode: fsync now if idle, else right after the group being written. */
  #syncTimerFired(): void {
    this.#syncTimer = null;
    if (!this.#writerRunning) this.#requestSync();
    else this.#syncDue = true;
  }

  /**
   * Group commit, pipelined: one fsync at a time, and the groups written while it runs are
   * covered by the next one, started as soon as it returns. The writer does not wait for an
   * fsync before writing the next group: waiting (encode, write, fsync, then the next encode)
   * left the disk idle between fsyncs and the event loop idle during them — at the ingest ceiling
   * the gateway was idle 18 % of the time, with 2,000 records waiting per fsync.
   */
  #requestSync(): void {
    if (this.#syncing !== null) {
      this.#syncAgain = true;
      return;
    }
    this.#syncing = this.#syncWhileDue();
  }

  async #syncWhileDue(): Promise<void> {
    do {
      this.#syncAgain = false;
      await this.#sync();
    } while (this.#syncAgain);
    this.#syncing = null;
  }

  /** fsync the active segment, then run the durable callbacks it covers. */
  async #sync(): Promise<void> {
    const callbacks = this.#unsynced;
    this.#unsynced = [];
    try {
      await this.#handle.datasync();
    } catch (err) {
      this.#writeFailed(err as Error);
      const e = new WeirError('WEIR_SPOOL_FSYNC', 'fsync of the spool failed', {
        cause: err,
      });
      for (const cb of callbacks) cb(e);
      return;
    }
    for (const cb of callbacks) cb();
  }

  /** Where the active segment's dictionary stands before a group is encoded. */
  #dictionaryMark(): DictionaryMark {
    const d = this.#active.dict;
    return {
      segment: this.#active,
      topics: d.topics.length,
      headers: d.headers.length,
      origins: d.origins.length,
    };
  }

  /**
   * A group that was not written must not leave definitions behind that later frames would refer
   * to: the dictionary goes back to the mark, and a new encoder defines anew what it needs.
   */
  #forgetDefinitions(mark: DictionaryMark): void {
    // A roll or fresh start before the failure: the new segment's dictionary is new, and the
    // failed group is its only user.
    const d = this.#active.dict;
    if (mark.segment !== this.#active) {
      d.topics.length = 0;
      d.headers.length = 0;
      d.origins.length = 0;
      this.#encoder = new SegmentEncoder(d);
      return;
    }
    d.topics.length = mark.topics;
    d.headers.length = mark.headers;
    d.origins.length = mark.origins;
    this.#encoder = new SegmentEncoder(d);
  }

  async #createSegment(firstSeq: number): Promise<void> {
    const { segment, handle } = await createSegmentFile(this.#o.dir, firstSeq);
    this.#segments.add(segment);
    this.#active = segment;
    this.#encoder = new SegmentEncoder(segment.dict);
    this.#handle = handle;
  }

  async #roll(): Promise<void> {
    // Frames already written to the old segment must be durable before their callbacks run;
    // the callbacks themselves wait for the next sync, which now covers the new segment.
    const old = this.#handle;
    await old.datasync();
    // The new segment first: when it cannot be made (no space), the old one stays active.
    await this.#createSegment(this.#writtenSeq + 1);
    await old.close();
  }

  /**
   * Every record written is delivered and checkpointed, but writing fails (a full file system,
   * and the active segment holds the space): delete every segment and start an empty one right
   * after the checkpoint, as recovery does (invariant 8). Also finishes a start that failed.
   */
  async #startFresh(): Promise<void> {
    if (this.#segments.count > 0) {
      if (this.#active.size === SEGMENT_HEADER_BYTES && this.#segments.count === 1) return;
      await this.#handle.close().catch(() => {});
      for (const seg of this.#segments.removeAll()) await unlink(seg.file);
    }
    await this.#createSegment(this.#writtenSeq + 1);
    this.#peers.restarted(this.#active);
  }

  #writeFailed(err: Error): void {
    this.#o.events.ioError(err, 'write');
    if (this.#writeFailures++ === 0) this.#o.events.writeState?.(err, 0);
    this.#peers.writeFailed();
  }

  #writeWorks(): void {
    if (this.#writeFailures === 0) return;
    const failures = this.#writeFailures;
    this.#writeFailures = 0;
    this.#o.events.writeState?.(null, failures);
  }
}

function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}
