// The disk spool: weir's durable buffer between intake and Kafka.
//
// Files (in spool.dir):
//   <firstSeq, 20 digits>.seg   segments: a header, then frames (format.ts), appended only
//   checkpoint.json             { version: 1, ackedSeq } written atomically (checkpoint.ts)
//   lock                        held by the gateway that owns the directory (lock.ts)
//   reserve                     RESERVE_BYTES kept free for the checkpoint (invariant 8, reserve.ts)
//
// Invariants
//  1. Every record gets a sequence number `seq`, +1 per record, contiguous across segments and
//     across restarts; a segment's name is the seq of its first record, so the last seq of a
//     segment is the next segment's first seq − 1. Numbers are assigned when a group is written,
//     so a failed write leaves no gap.
//  2. Frames are only appended. A file is never rewritten: it is deleted whole once every record
//     in it is done (delivered to Kafka, or given up by policy and counted) and the checkpoint
//     saying so is durable. The one exception is truncation of a damaged or torn tail.
//  3. A durable callback (QoS 1/2 PUBACK) runs only after the fsync that covers its frame has
//     returned. One fsync covers every frame written since the previous one (group commit).
//  4. Records are handed to the reader in seq order, each once per process lifetime. The
//     checkpoint is the highest seq such that it and every seq before it is done; replay after a
//     restart starts right after it, so nothing acknowledged is lost and nothing after the
//     checkpoint is skipped. Records done but after the checkpoint may be sent again after a
//     crash: duplicates, never loss.
//  5. Damage never stops the spool. A torn or corrupt tail of the last segment is truncated at
//     the last good frame when the spool opens; a corrupt frame found while reading truncates
//     that segment there and reading continues with the next segment. Either way the number of
//     records lost is known exactly (invariant 1), counted and logged with the file and offset.
//  6. Bytes on disk never pass maxBytes by more than one write group. When full: `block` makes
//     appends wait (the source stops reading from devices), `dropNewest` refuses new records,
//     `dropOldest` deletes the oldest segment; records given up are counted exactly.
//  7. A reader that keeps pace with the writer takes the records just written from memory (the
//     "tail": the frames' records, their segment and offset, bounded in bytes) instead of reading
//     and decoding the file again. A tail record is used only where the file reader would be
//     next (same seq, segment and offset), so order, numbering and replay are the same either way;
//     once the reader falls behind, the tail is dropped and reading continues from the file.
//  8. A full file system never wedges the spool. Deleting delivered segments needs a durable
//     checkpoint first (invariant 2), and writing one needs a little space: the `reserve` file
//     holds that space. When the checkpoint cannot be written for lack of space, the reserve is
//     deleted and the write tried again (appends wait meanwhile, so they cannot take the space);
//     delivered segments are then deleted and the reserve is made again. While appends fail for
//     lack of space, every delivery moves the checkpoint at once instead of on the interval.
//  9. One process per directory: `lock` is held with an OS lock for as long as the spool is
//     open; a second gateway on the same directory fails to open it (lock.ts).
import { type FileHandle, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { OutboundRecord, Settle } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import {
  type Checkpoint,
  overwriteCheckpoint,
  readCheckpoint,
  syncDirectory,
  writeCheckpoint,
} from './checkpoint.ts';
import {
  checkSegmentHeader,
  decodeFrame,
  emptyDictionary,
  FORMAT_VERSION,
  frameSize,
  parseSegmentName,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  type SegmentDictionary,
  SegmentEncoder,
  type SpooledRecord,
  segmentFormat,
  segmentHeader,
  segmentName,
} from './format.ts';
import { lockSpoolDirectory, type SpoolLock } from './lock.ts';
import { isNoSpace, Reserve } from './reserve.ts';

export { RESERVE_BYTES, RESERVE_FILE } from './reserve.ts';

export type WhenFull = 'block' | 'dropOldest' | 'dropNewest';

export interface DamageReport {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  /** Records lost with the damaged bytes. */
  readonly records: number;
  readonly bytes: number;
}

export interface SpoolEvents {
  /** A damaged or torn region was cut off (at open, or while reading). */
  damaged(report: DamageReport): void;
  /** Records given up because the spool was full (dropOldest / dropNewest). */
  dropped(records: number): void;
  /**
   * An I/O operation failed, once per failure. `write` (a write or fsync): the records concerned
   * were not acknowledged. `checkpoint`, `delete`, `truncate`: kept for a later try.
   */
  ioError(err: Error, during: 'write' | 'checkpoint' | 'delete' | 'truncate'): void;
  /**
   * Writing started failing (`err` is the first failure) or works again (`err` null; `failures`
   * counts the writes that failed meanwhile). Once per change of state: what to log.
   */
  writeState?(err: Error | null, failures: number): void;
}

export interface DiskSpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly whenFull: WhenFull;
  /** 0: fsync after each group write (default); N: fsync every N ms. */
  readonly fsyncIntervalMs: number;
  readonly checkpointIntervalMs: number;
  readonly events: SpoolEvents;
}

interface Segment {
  readonly firstSeq: number;
  readonly file: string;
  /** Bytes in the file (for the active segment: bytes written so far). */
  size: number;
  dropped: boolean;
  /** The format its frames are in (its header says; format.ts). */
  format: number;
  /** What its frames defined so far (format.ts), filled as it is written or read from its start. */
  readonly dict: SegmentDictionary;
}

interface PendingAppend {
  readonly topic: string;
  readonly record: OutboundRecord;
  readonly bytes: number;
  readonly onDurable: Settle | null;
}

interface Waiter extends PendingAppend {
  readonly onAccepted: Settle | null;
}

/** A record handed to the reader; `done` marks it delivered. */
export interface ReadEntry {
  readonly seq: number;
  readonly timestamp: number;
  done: boolean;
}

export interface SpoolStats {
  readonly segments: number;
  readonly bytes: number;
  /** Records written but not yet done. */
  readonly records: number;
  readonly ackedSeq: number;
  readonly lastSeq: number;
  /** Age of the oldest record handed out and not yet done, ms (0 when none). */
  readonly oldestAgeMs: number;
  readonly waitingAppends: number;
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

/** A record just written, kept for a reader that is caught up (invariant 7). */
interface TailRecord {
  readonly seq: number;
  readonly topic: string;
  readonly record: OutboundRecord;
  readonly bytes: number;
  readonly segment: Segment;
  readonly offset: number;
}

const TAIL_MAX_BYTES = 4 * 1024 * 1024;
const MIN_READ = 256 * 1024;
const MAX_READ = 8 * 1024 * 1024;

export class DiskSpool {
  readonly #o: DiskSpoolOptions;
  readonly #segments: Segment[] = [];
  #active!: Segment;
  #writeHandle!: FileHandle;
  /** Encodes the active segment's frames, referring to what its earlier frames defined. */
  #encoder!: SegmentEncoder;
  /** Last seq written to a file (not necessarily fsync'd yet). */
  #writtenSeq = 0;
  #totalBytes = 0;

  // Writer
  #pending: PendingAppend[] = [];
  #pendingBytes = 0;
  #waiters: Waiter[] = [];
  /** The write loop: the last one started, and whether it still runs (cleared by the loop itself). */
  #writing: Promise<void> | null = null;
  #writerRunning = false;
  #unsynced: Settle[] = [];
  #syncTimer: NodeJS.Timeout | null = null;
  #syncDue = false;
  #closed = false;

  // Reader
  #readSegment: Segment | null = null;
  #readHandle: FileHandle | null = null;
  #readOffset = SEGMENT_HEADER_BYTES;
  #readNextSeq = 1;
  /** Records with seq ≤ this are already done (from the checkpoint): read past, not handed out. */
  #skipThrough = 0;
  #appendedWaiters: Array<() => void> = [];
  #tail: TailRecord[] = [];
  #tailHead = 0;
  #tailBytes = 0;

  // Acknowledgement tracking
  #handedOut: ReadEntry[] = [];
  #handedHead = 0;
  #ackedSeq = 0;
  #persistedSeq = 0;
  #checkpointTimer: NodeJS.Timeout | null = null;
  #checkpointing: Promise<void> | null = null;

  // Full file system (invariant 8)
  /** Writes failed in a row; 0 while writing works. */
  #writeFailures = 0;
  /** Set while the reserve is released for a checkpoint: the writer waits for it. */
  #reclaiming: Promise<void> | null = null;
  /** The group being written (and fsync'd), if any. */
  #groupInFlight: Promise<void> | null = null;
  readonly #reserve: Reserve;
  readonly #lock: SpoolLock;

  private constructor(opts: DiskSpoolOptions, lock: SpoolLock) {
    this.#o = opts;
    this.#lock = lock;
    this.#reserve = new Reserve(opts.dir);
  }

  /**
   * Opens (creating if needed) and recovers a spool directory. Throws WEIR_SPOOL_LOCKED when
   * another process has it open.
   */
  static async open(opts: DiskSpoolOptions): Promise<DiskSpool> {
    await makeDirectory(opts.dir);
    const lock = await lockSpoolDirectory(opts.dir);
    const spool = new DiskSpool(opts, lock);
    try {
      await spool.#recover();
      await spool.#reserve.make();
    } catch (err) {
      await spool.#writeHandle?.close().catch(() => {});
      lock.release();
      throw err;
    }
    spool.#checkpointTimer = setInterval(() => void spool.#checkpoint(), opts.checkpointIntervalMs);
    spool.#checkpointTimer.unref();
    return spool;
  }

  get dir(): string {
    return this.#o.dir;
  }

  // ───────────────────────────── recovery ─────────────────────────────

  async #recover(): Promise<void> {
    const { dir } = this.#o;
    const names = await readdir(dir);
    for (const name of names) if (name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
    const firstSeqs = names
      .map(parseSegmentName)
      .filter((n): n is number => n !== null)
      .sort((a, b) => a - b);
    for (const firstSeq of firstSeqs) {
      const file = path.join(dir, segmentName(firstSeq));
      this.#segments.push({
        firstSeq,
        file,
        size: (await stat(file)).size,
        dropped: false,
        format: await readSegmentFormat(file),
        dict: emptyDictionary(),
      });
    }

    const { checkpoint, problem } = await readCheckpoint(dir);
    if (problem !== undefined) {
      // Not trusted: replay everything still on disk (duplicates, never loss).
      this.#o.events.damaged({
        file: path.join(dir, 'checkpoint.json'),
        offset: 0,
        reason: problem,
        records: 0,
        bytes: 0,
      });
    }
    const first = this.#segments[0];
    let acked = checkpoint?.ackedSeq ?? (first === undefined ? 0 : first.firstSeq - 1);

    // The last segment is the only one a crash can leave torn: scan it whole now. The others are
    // checked frame by frame as they are read (invariant 5).
    const last = this.#segments.at(-1);
    let written = acked;
    if (last !== undefined) written = last.firstSeq - 1 + (await this.#recoverLastSegment(last));
    if (written <= acked) {
      // Everything on disk is done — or the checkpoint is ahead of a tail that never reached
      // the disk (records read and delivered before their fsync, then power loss). Start a
      // fresh segment right after the checkpoint so numbering stays contiguous.
      for (const seg of this.#segments.splice(0)) await unlink(seg.file);
      written = acked;
    } else {
      // Segments whose records are all done are deleted (a crash may have left them).
      while (this.#segments.length > 1 && this.#segments[1]!.firstSeq - 1 <= acked) {
        await unlink(this.#segments.shift()!.file);
      }
      const oldest = this.#segments[0]!;
      if (oldest.firstSeq > acked + 1) {
        // Records between the checkpoint and the oldest segment are gone (a segment was removed).
        const missing = oldest.firstSeq - (acked + 1);
        this.#o.events.damaged({
          file: oldest.file,
          offset: 0,
          reason: 'segments missing before this one',
          records: missing,
          bytes: 0,
        });
        acked = oldest.firstSeq - 1;
      }
    }
    this.#writtenSeq = written;

    this.#ackedSeq = acked;
    this.#persistedSeq = checkpoint?.ackedSeq ?? 0;
    this.#skipThrough = acked;

    if (this.#segments.length === 0) {
      await this.#createSegment(this.#writtenSeq + 1);
    } else if (this.#segments.at(-1)!.format !== FORMAT_VERSION) {
      // Left by an older weir: read as it is, written no more; new records go to a new segment.
      // One without records (a roll just before the older weir stopped) has the new segment's
      // name: it goes first.
      const last = this.#segments.at(-1)!;
      if (last.firstSeq === this.#writtenSeq + 1) {
        this.#segments.pop();
        await unlink(last.file);
      }
      await this.#createSegment(this.#writtenSeq + 1);
    } else {
      this.#active = this.#segments.at(-1)!;
      this.#encoder = new SegmentEncoder(this.#active.dict); // the dictionary its scan rebuilt
      this.#writeHandle = await open(this.#active.file, 'r+');
    }
    this.#totalBytes = this.#segments.reduce((sum, s) => sum + s.size, 0);
    const start = this.#segments[0]!;
    this.#readSegment = start;
    this.#readOffset = SEGMENT_HEADER_BYTES;
    this.#readNextSeq = start.firstSeq;
  }

  /**
   * Validates the last segment frame by frame and truncates a torn or corrupt tail. Returns the
   * number of good records in it.
   */
  async #recoverLastSegment(seg: Segment): Promise<number> {
    const handle = await open(seg.file, 'r+');
    try {
      const data = await handle.readFile();
      const headerProblem = checkSegmentHeader(data);
      if (headerProblem !== null && isNewerFormat(data)) {
        // Written by a newer weir: not ours to cut. Refuse to start rather than lose it.
        throw new WeirError(
          'WEIR_SPOOL_FORMAT',
          `${seg.file} was written by a newer weir (spool format ${data.readUInt32LE(8)}; this weir reads 1 to ${FORMAT_VERSION}); run the newer weir until the spool is drained, or move the spool directory aside`,
        );
      }
      if (headerProblem !== null) {
        // A crash between creating the file and writing its header leaves it short; anything
        // else with a bad header is not ours to interpret. Either way nothing in it is readable.
        await handle.truncate(0);
        await handle.write(segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
        await handle.sync();
        seg.size = SEGMENT_HEADER_BYTES;
        seg.format = FORMAT_VERSION;
        if (data.length > 0) {
          this.#o.events.damaged({
            file: seg.file,
            offset: 0,
            reason: headerProblem,
            records: 0,
            bytes: data.length,
          });
        }
        return 0;
      }
      let at = SEGMENT_HEADER_BYTES;
      let seq = seg.firstSeq;
      let reason: string | null = null;
      while (at < data.length) {
        const r = decodeFrame(data, at, seq, seg.format, seg.dict);
        if (r.kind === 'record') {
          at += r.bytes;
          seq++;
          continue;
        }
        reason = r.kind === 'incomplete' ? 'torn last record (incomplete frame)' : r.reason;
        break;
      }
      if (reason !== null) {
        await handle.truncate(at);
        await handle.sync();
        // How many records were in the cut-off bytes is not known. For a torn tail they were
        // never acknowledged (their fsync had not returned); a corrupt frame further back may be
        // followed by records that were.
        this.#o.events.damaged({ file: seg.file, offset: at, reason, records: 0, bytes: data.length - at });
      }
      seg.size = at;
      return seq - seg.firstSeq;
    } finally {
      await handle.close();
    }
  }

  async #createSegment(firstSeq: number): Promise<void> {
    const file = path.join(this.#o.dir, segmentName(firstSeq));
    const handle = await open(file, 'wx+');
    try {
      await handle.write(segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
      await handle.datasync();
      await syncDirectory(this.#o.dir);
    } catch (err) {
      // E.g. no space for the header: leave no half-made segment behind, so the roll can be
      // tried again with the same name.
      await handle.close().catch(() => {});
      await unlink(file).catch(() => {});
      throw err;
    }
    const seg: Segment = {
      firstSeq,
      file,
      size: SEGMENT_HEADER_BYTES,
      dropped: false,
      format: FORMAT_VERSION,
      dict: emptyDictionary(),
    };
    this.#segments.push(seg);
    this.#totalBytes += SEGMENT_HEADER_BYTES;
    this.#active = seg;
    this.#encoder = new SegmentEncoder(seg.dict);
    this.#writeHandle = handle;
  }

  // ───────────────────────────── writing ─────────────────────────────

  /**
   * Appends a record. `onAccepted` runs once the record is admitted (QoS 0 acknowledges then);
   * `onDurable` once the fsync covering it has returned (QoS 1/2). Either may be null. With
   * `block`, a full spool delays both — that is the backpressure. With a drop policy, a record
   * given up is still "accepted": its callbacks run without error and the drop is counted.
   */
  append(topic: string, record: OutboundRecord, onAccepted: Settle | null, onDurable: Settle | null): void {
    if (this.#closed) {
      const err = new WeirError('WEIR_SPOOL_CLOSED', 'spool is closed', { retriable: true });
      onAccepted?.(err);
      onDurable?.(err);
      return;
    }
    const bytes = frameBytes(topic, record);
    if (this.#waiters.length > 0 || !this.#fits(bytes)) {
      if (this.#o.whenFull === 'dropNewest') {
        this.#o.events.dropped(1);
        onAccepted?.();
        onDurable?.();
        return;
      }
      if (
        this.#o.whenFull === 'dropOldest' &&
        this.#waiters.length === 0 &&
        this.#dropOldestUntilFits(bytes)
      ) {
        this.#admit({ topic, record, bytes, onDurable }, onAccepted);
        return;
      }
      this.#waiters.push({ topic, record, bytes, onDurable, onAccepted });
      return;
    }
    this.#admit({ topic, record, bytes, onDurable }, onAccepted);
  }

  #fits(bytes: number): boolean {
    // Count the headers of the segments the pending bytes will roll into (one extra: groups
    // split at record boundaries, leaving slack at the end of each segment).
    const ahead = this.#active.size + this.#pendingBytes + bytes;
    const rolls = Math.ceil(ahead / (this.#o.segmentBytes - SEGMENT_HEADER_BYTES));
    return this.#totalBytes + this.#pendingBytes + bytes + rolls * SEGMENT_HEADER_BYTES <= this.#o.maxBytes;
  }

  #admit(p: PendingAppend, onAccepted: Settle | null): void {
    this.#pending.push(p);
    this.#pendingBytes += p.bytes;
    onAccepted?.();
    if (!this.#writerRunning) {
      this.#writerRunning = true;
      this.#writing = this.#writeLoop();
    }
  }

  #admitWaiters(): void {
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0]!;
      if (!this.#fits(w.bytes)) {
        if (this.#o.whenFull !== 'dropOldest' || !this.#dropOldestUntilFits(w.bytes)) return;
      }
      this.#waiters.shift();
      this.#admit(w, w.onAccepted);
    }
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
        (this.#o.whenFull === 'dropOldest' && this.#segments.length === 1 && !this.#fits(0)));
    // Held while the checkpoint uses the reserve's space on a full file system (invariant 8).
    while (this.#reclaiming !== null) await this.#reclaiming;
    let groupDone!: () => void;
    this.#groupInFlight = new Promise<void>((resolve) => (groupDone = resolve));
    let written: EncodedGroup | null = null;
    const dictMark = this.#dictionaryMark();
    try {
      try {
        if (this.#segments.length === 0) await this.#startFresh();
        else if (this.#writeFailures > 0 && this.#persistedSeq >= this.#writtenSeq) await this.#startFresh();
        else if (wantRoll) await this.#roll();
        written = this.#encoder.encode(this.#writtenSeq + 1, group, groupBytes);
        await this.#writeAll([written.frames], this.#active.size);
      } catch (err) {
        this.#pendingBytes -= groupBytes;
        await this.#writeHandle.truncate(this.#active.size).catch(() => {});
        this.#forgetDefinitions(dictMark);
        this.#writeFailed(err as Error);
        const e = new WeirError('WEIR_SPOOL_WRITE', 'writing to the spool failed', {
          cause: err,
          retriable: true,
        });
        for (const p of group) p.onDurable?.(e);
        return;
      }
      this.#pendingBytes -= groupBytes;
      this.#writeWorks();
      const { frames, sizes } = written!;
      this.#keepInTail(group, sizes, frames.length, this.#writtenSeq + 1);
      this.#active.size += frames.length;
      this.#totalBytes += frames.length;
      this.#writtenSeq += group.length;
      for (const wake of this.#appendedWaiters.splice(0)) wake();
      for (const p of group) if (p.onDurable !== null) this.#unsynced.push(p.onDurable);
      if (this.#o.fsyncIntervalMs === 0 || this.#syncDue) {
        this.#syncDue = false;
        await this.#sync();
      } else {
        this.#syncTimer ??= setTimeout(() => this.#syncTimerFired(), this.#o.fsyncIntervalMs);
      }
    } finally {
      this.#groupInFlight = null;
      groupDone();
    }
    this.#admitWaiters();
  }

  /**
   * Keeps a group just written (at the end of the active segment) for a reader that is caught up:
   * only when it continues the tail, or the reader's next record is its first (invariant 7).
   */
  #keepInTail(
    group: readonly PendingAppend[],
    sizes: readonly number[],
    bytes: number,
    firstSeq: number,
  ): void {
    const last = this.#tail.length > this.#tailHead ? this.#tail.at(-1)! : undefined;
    const continues = last === undefined ? this.#readNextSeq === firstSeq : last.seq + 1 === firstSeq;
    if (!continues || this.#tailBytes + bytes > TAIL_MAX_BYTES) {
      this.#dropTail();
      return;
    }
    const segment = this.#active;
    let offset = segment.size;
    for (let i = 0; i < group.length; i++) {
      const p = group[i]!;
      this.#tail.push({
        seq: firstSeq + i,
        topic: p.topic,
        record: p.record,
        bytes: sizes[i]!,
        segment,
        offset,
      });
      offset += sizes[i]!;
    }
    this.#tailBytes += bytes;
  }

  #dropTail(): void {
    this.#tail = [];
    this.#tailHead = 0;
    this.#tailBytes = 0;
  }

  async #writeAll(frames: Buffer[], position: number): Promise<void> {
    let remaining = frames;
    let pos = position;
    while (remaining.length > 0) {
      const { bytesWritten } = await this.#writeHandle.writev(remaining, pos);
      pos += bytesWritten;
      remaining = skipBytes(remaining, bytesWritten);
    }
  }

  /** Interval mode: fsync now if idle, else right after the group being written. */
  #syncTimerFired(): void {
    this.#syncTimer = null;
    if (!this.#writerRunning) void this.#sync();
    else this.#syncDue = true;
  }

  /** fsync the active segment, then run the durable callbacks it covers. */
  async #sync(): Promise<void> {
    const callbacks = this.#unsynced;
    this.#unsynced = [];
    try {
      await this.#writeHandle.datasync();
    } catch (err) {
      this.#writeFailed(err as Error);
      const e = new WeirError('WEIR_SPOOL_FSYNC', 'fsync of the spool failed', {
        cause: err,
        retriable: true,
      });
      for (const cb of callbacks) cb(e);
      return;
    }
    for (const cb of callbacks) cb();
  }

  /** The group's frames (at most `maxBytes`), and how to undo their definitions. */
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

  async #roll(): Promise<void> {
    // Frames already written to the old segment must be durable before their callbacks run;
    // the callbacks themselves wait for the next sync, which now covers the new segment.
    const old = this.#writeHandle;
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
    if (this.#segments.length > 0) {
      if (this.#active.size === SEGMENT_HEADER_BYTES && this.#segments.length === 1) return;
      await this.#writeHandle.close().catch(() => {});
      for (const seg of this.#segments.splice(0)) {
        seg.dropped = true;
        this.#totalBytes -= seg.size;
        await unlink(seg.file);
      }
      this.#dropTail();
    }
    await this.#createSegment(this.#writtenSeq + 1);
    this.#moveReaderTo(this.#active);
  }

  #writeFailed(err: Error): void {
    this.#o.events.ioError(err, 'write');
    if (this.#writeFailures++ === 0) this.#o.events.writeState?.(err, 0);
    // Space may be held by delivered segments: free it as soon as the checkpoint moves.
    if (this.#ackedSeq > this.#persistedSeq) void this.#checkpoint();
  }

  #writeWorks(): void {
    if (this.#writeFailures === 0) return;
    const failures = this.#writeFailures;
    this.#writeFailures = 0;
    this.#o.events.writeState?.(null, failures);
  }

  /** Deletes oldest segments (never the active one) until `bytes` fit. Returns whether they do. */
  #dropOldestUntilFits(bytes: number): boolean {
    while (!this.#fits(bytes) && this.#segments.length > 1) {
      const seg = this.#segments.shift()!;
      const lastSeq = this.#segments[0]!.firstSeq - 1;
      const from = Math.max(seg.firstSeq, this.#readNextSeq);
      const unread = Math.max(0, lastSeq - from + 1);
      seg.dropped = true;
      this.#totalBytes -= seg.size;
      if (this.#readSegment === seg) this.#moveReaderTo(this.#segments[0]!);
      if (unread > 0) this.#o.events.dropped(unread);
      unlink(seg.file).catch((err: unknown) => this.#o.events.ioError(err as Error, 'delete'));
      this.#advanceAcked();
    }
    return this.#fits(bytes);
  }

  // ───────────────────────────── reading ─────────────────────────────

  /** Resolves when records are written beyond what the reader has read (at once if they are). */
  whenReadable(): Promise<void> {
    if (this.#readNextSeq <= this.#writtenSeq || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#appendedWaiters.push(resolve));
  }

  /**
   * Reads the next records in seq order, about `maxBytes` of them (at least one if any is
   * written). Returns [] when the reader has caught up with the writer. Each record returned is
   * tracked: call `done(entry)` when Kafka has it. Not re-entrant: await one call before the next.
   */
  async read(maxBytes: number): Promise<Array<SpooledRecord & { entry: ReadEntry }>> {
    const out: Array<SpooledRecord & { entry: ReadEntry }> = [];
    let outBytes = 0;
    let need = 0;
    while (out.length === 0 && this.#readNextSeq <= this.#writtenSeq && !this.#closed) {
      const seg = this.#readSegment!;
      const limit = seg.size;
      if (this.#readOffset >= limit) {
        const next = this.#segments[this.#segments.indexOf(seg) + 1];
        if (next === undefined) return out; // caught up inside the active segment
        if (this.#readNextSeq < next.firstSeq) {
          this.#damageWhileReading(seg, this.#readOffset, 'segment ends before its last record', next);
        } else {
          this.#moveReaderTo(next);
        }
        continue;
      }
      if (this.#takeFromTail(seg, out, maxBytes)) continue;
      const handle = await this.#readerHandle(seg);
      if (handle === null) continue; // moved on (dropOldest) while the file opened
      const length = Math.min(
        limit - this.#readOffset,
        Math.max(MIN_READ, Math.min(maxBytes, MAX_READ), need),
      );
      const buf = Buffer.allocUnsafe(length);
      const offset = this.#readOffset;
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      if (seg.dropped || this.#readSegment !== seg || this.#readOffset !== offset) continue; // dropped meanwhile
      const data = buf.subarray(0, bytesRead);
      let at = 0;
      while (at < data.length && outBytes < maxBytes) {
        const r = decodeFrame(data, at, this.#readNextSeq, seg.format, seg.dict);
        if (r.kind === 'record') {
          at += r.bytes;
          this.#readNextSeq++;
          if (r.value.seq <= this.#skipThrough) continue;
          const entry: ReadEntry = { seq: r.value.seq, timestamp: r.value.record.timestamp, done: false };
          this.#handedOut.push(entry);
          out.push({ ...r.value, entry });
          outBytes += r.bytes;
          continue;
        }
        if (r.kind === 'incomplete' && offset + at + r.needBytes <= limit && bytesRead === length) {
          need = r.needBytes; // the frame continues past this chunk: read more next round
          break;
        }
        const reason = r.kind === 'incomplete' ? 'frame runs past the end of the segment' : r.reason;
        this.#readOffset = offset + at;
        this.#damageWhileReading(seg, offset + at, reason, this.#segments[this.#segments.indexOf(seg) + 1]);
        at = -1;
        break;
      }
      if (at >= 0) this.#readOffset = offset + at;
    }
    if (out.length === 0) this.#advanceAcked(); // records skipped (checkpoint, damage) are done too
    return out;
  }

  /**
   * Takes records from the tail where the file reader would be next (invariant 7). Returns
   * whether it took any.
   */
  #takeFromTail(seg: Segment, out: Array<SpooledRecord & { entry: ReadEntry }>, maxBytes: number): boolean {
    const tail = this.#tail;
    let head = this.#tailHead;
    // Records the file reader has passed already.
    while (head < tail.length && tail[head]!.seq < this.#readNextSeq) this.#tailBytes -= tail[head++]!.bytes;
    let outBytes = 0;
    while (head < tail.length && outBytes < maxBytes) {
      const t = tail[head]!;
      if (t.seq !== this.#readNextSeq || t.segment !== seg || t.offset !== this.#readOffset) break;
      head++;
      this.#tailBytes -= t.bytes;
      this.#readOffset += t.bytes;
      this.#readNextSeq++;
      outBytes += t.bytes;
      const entry: ReadEntry = { seq: t.seq, timestamp: t.record.timestamp, done: false };
      this.#handedOut.push(entry);
      out.push({ seq: t.seq, topic: t.topic, record: t.record, entry });
    }
    if (head === tail.length) this.#dropTail();
    else this.#tailHead = head;
    return outBytes > 0;
  }

  /** The open file of `seg`; null when the reader moved to another segment while it opened. */
  async #readerHandle(seg: Segment): Promise<FileHandle | null> {
    if (this.#readHandle !== null) return this.#readHandle;
    const handle = await open(seg.file, 'r');
    if (this.#readSegment !== seg || this.#readHandle !== null || seg.dropped) {
      await handle.close();
      return null;
    }
    this.#readHandle = handle;
    return handle;
  }

  #moveReaderTo(seg: Segment): void {
    const old = this.#readHandle;
    this.#readHandle = null;
    old?.close().catch(() => {});
    this.#readSegment = seg;
    this.#readOffset = SEGMENT_HEADER_BYTES;
    if (seg.firstSeq > this.#readNextSeq) this.#readNextSeq = seg.firstSeq;
  }

  /** A corrupt frame at `offset`: cut the segment there and continue with the next one. */
  #damageWhileReading(seg: Segment, offset: number, reason: string, next: Segment | undefined): void {
    const endSeq = next === undefined ? this.#writtenSeq : next.firstSeq - 1;
    const lost = Math.max(0, endSeq - this.#readNextSeq + 1);
    const bytes = seg.size - offset;
    this.#o.events.damaged({ file: seg.file, offset, reason, records: lost, bytes });
    if (seg !== this.#active) {
      seg.size = offset;
      this.#totalBytes -= bytes;
      truncateFile(seg.file, offset).catch((err: unknown) =>
        this.#o.events.ioError(err as Error, 'truncate'),
      );
    }
    if (next !== undefined) {
      this.#moveReaderTo(next);
    } else {
      // Damage inside the active segment: the writer keeps appending after it; skip to its end.
      this.#readOffset = seg.size;
      this.#readNextSeq = this.#writtenSeq + 1;
    }
  }

  // ─────────────────────── acknowledgement and checkpoint ───────────────────────

  /** Marks a record handed out by `read` as delivered. */
  done(entry: ReadEntry): void {
    entry.done = true;
    this.#advanceAcked();
  }

  #advanceAcked(): void {
    const q = this.#handedOut;
    let head = this.#handedHead;
    while (head < q.length && q[head]!.done) {
      this.#ackedSeq = q[head]!.seq;
      head++;
    }
    if (head === q.length) {
      // Nothing outstanding: everything before the reader is done or was given up and counted.
      this.#ackedSeq = Math.max(this.#ackedSeq, this.#readNextSeq - 1);
      q.length = 0;
      head = 0;
    } else if (head > 4096 && head * 2 > q.length) {
      q.splice(0, head);
      head = 0;
    }
    this.#handedHead = head;
    if ((this.#waiters.length > 0 || this.#writeFailures > 0) && this.#ackedSeq > this.#persistedSeq)
      void this.#checkpoint();
  }

  /** Persists the checkpoint if it moved, then deletes segments that are wholly done. */
  #checkpoint(): Promise<void> {
    if (this.#checkpointing !== null) return this.#checkpointing;
    const running = this.#persistCheckpoint().finally(() => {
      if (this.#checkpointing === running) this.#checkpointing = null;
    });
    this.#checkpointing = running;
    return running;
  }

  async #persistCheckpoint(): Promise<void> {
    let releaseWriter: (() => void) | null = null;
    try {
      const acked = this.#ackedSeq;
      if (acked > this.#persistedSeq) {
        try {
          await writeCheckpoint(this.#o.dir, { ackedSeq: acked } satisfies Checkpoint);
        } catch (err) {
          if (!isNoSpace(err)) throw err;
          // The file system is full (invariant 8): hold the writer — once its group in flight is
          // done — so that it cannot take the reserve's space, until the reserve is back.
          this.#reclaiming = new Promise<void>((resolve) => (releaseWriter = resolve));
          await this.#groupInFlight;
          await this.#writeCheckpointWithoutSpace({ ackedSeq: acked });
        }
        this.#persistedSeq = acked;
      }
      while (
        this.#segments.length > 1 &&
        this.#segments[1]!.firstSeq - 1 <= this.#persistedSeq &&
        this.#segments[0] !== this.#readSegment
      ) {
        const seg = this.#segments.shift()!;
        this.#totalBytes -= seg.size;
        await unlink(seg.file);
      }
      await this.#reserve.make();
      this.#admitWaiters();
    } catch (err) {
      this.#o.events.ioError(err as Error, 'checkpoint');
    } finally {
      if (releaseWriter !== null) {
        this.#reclaiming = null;
        (releaseWriter as () => void)();
      }
    }
  }

  /**
   * The checkpoint on a full file system: in the reserve's space, or — when there is no reserve
   * (the disk was already full when the spool opened) — written over the old checkpoint file's
   * own bytes. That last write is not atomic: a checkpoint torn by a crash in that instant is
   * found unreadable at open and everything on disk is replayed (duplicates, never loss).
   */
  async #writeCheckpointWithoutSpace(checkpoint: Checkpoint): Promise<void> {
    if (this.#reserve.held) {
      await this.#reserve.release();
      await writeCheckpoint(this.#o.dir, checkpoint);
    } else {
      await overwriteCheckpoint(this.#o.dir, checkpoint);
    }
  }

  stats(): SpoolStats {
    const head = this.#handedOut[this.#handedHead];
    return {
      segments: this.#segments.length,
      bytes: this.#totalBytes,
      records: this.#writtenSeq - this.#ackedSeq,
      ackedSeq: this.#ackedSeq,
      lastSeq: this.#writtenSeq,
      oldestAgeMs: head === undefined ? 0 : Math.max(0, Date.now() - head.timestamp),
      waitingAppends: this.#waiters.length,
    };
  }

  /** True when every record written is done. */
  get drained(): boolean {
    return this.#pending.length === 0 && this.#waiters.length === 0 && this.#ackedSeq >= this.#writtenSeq;
  }

  /**
   * Writes and fsyncs everything appended, persists the checkpoint and closes the files.
   * Appends still waiting for space get an error (they were not acknowledged).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#checkpointTimer !== null) clearInterval(this.#checkpointTimer);
    const err = new WeirError('WEIR_SPOOL_CLOSED', 'spool closed before the record could be written', {
      retriable: true,
    });
    for (const w of this.#waiters.splice(0)) {
      w.onAccepted?.(err);
      w.onDurable?.(err);
    }
    while (this.#writerRunning) await this.#writing;
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    await this.#sync();
    await this.#checkpointing;
    await this.#checkpoint();
    for (const wake of this.#appendedWaiters.splice(0)) wake();
    this.#dropTail();
    await this.#writeHandle.close();
    await this.#readHandle?.close().catch(() => {});
    this.#readHandle = null;
    this.#lock.release();
  }
}

/** Size of the frame `encodeFrame` will produce, without encoding it. */
export const frameBytes = frameSize;

function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}

/** A segment header that names a format above the ones this weir reads. */
function isNewerFormat(header: Buffer): boolean {
  return (
    header.length >= SEGMENT_HEADER_BYTES &&
    header.subarray(0, 8).equals(SEGMENT_MAGIC) &&
    header.readUInt32LE(8) > FORMAT_VERSION
  );
}

/**
 * mkdir -p. Not `mkdir(dir, { recursive: true })`: Node's loops for ever where mkdir answers
 * ENOENT under a parent that exists (e.g. anywhere in /proc) instead of failing.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir || (await exists(parent))) throw err;
    await makeDirectory(parent);
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The format a segment's header names; the current one when the header is unreadable. */
async function readSegmentFormat(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, SEGMENT_HEADER_BYTES, 0);
    const ok = checkSegmentHeader(header.subarray(0, bytesRead)) === null;
    // A damaged header shows as damaged frames when the segment is read (invariant 5).
    return ok ? segmentFormat(header) : FORMAT_VERSION;
  } finally {
    await handle.close();
  }
}

async function truncateFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.truncate(size);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
