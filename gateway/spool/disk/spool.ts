// The disk spool: weir's durable buffer between intake and Kafka. This file opens a spool
// directory (recovery), closes it, and is the API the rest of weir uses. The work is done by
// three parts, connected here; each declares the little it asks of the others (its *Peers):
//   writer.ts    appends: numbering, group commit and fsync, segment roll, whenFull, full disk
//   reader.ts    hands records out in seq order, from the files or from the tail in memory
//   ledger.ts    what is done: the checkpoint, deleting delivered segments, dropOldest
// Beneath them: segments.ts (the segment list and its bytes), format.ts (the bytes of a segment),
// checkpoint.ts, reserve.ts and lock.ts (the other files).
//
// Files (in spool.dir):
//   <firstSeq, 20 digits>.seg   segments: a header, then frames (format.ts), appended only
//   checkpoint.json             { version: 1, ackedSeq } written atomically (checkpoint.ts)
//   lock                        held by the gateway that owns the directory (lock.ts)
//   reserve                     RESERVE_BYTES kept free for the checkpoint (invariant 8, reserve.ts)
//
// Invariants (in brackets: where each is kept)
//  1. Every record gets a sequence number `seq`, +1 per record, contiguous across segments and
//     across restarts; a segment's name is the seq of its first record, so the last seq of a
//     segment is the next segment's first seq − 1. Numbers are assigned when a group is written,
//     so a failed write leaves no gap. [writer.ts; across restarts, recovery here]
//  2. Frames are only appended. A file is never rewritten: it is deleted whole once every record
//     in it is done (delivered to Kafka, or given up by policy and counted) and the checkpoint
//     saying so is durable. The one exception is truncation of a damaged or torn tail.
//     [writer.ts appends, ledger.ts deletes; truncation: recovery here and reader.ts]
//  3. A durable callback (QoS 1/2 PUBACK) runs only after the fsync that covers its frame has
//     returned. One fsync covers every frame written before it began (group commit); frames
//     written while it runs wait for the next one, begun as soon as it returns. [writer.ts]
//  4. Records are handed to the reader in seq order, each once per process lifetime. The
//     checkpoint is the highest seq such that it and every seq before it is done; replay after a
//     restart starts right after it, so nothing acknowledged is lost and nothing after the
//     checkpoint is skipped. Records done but after the checkpoint may be sent again after a
//     crash: duplicates, never loss. [reader.ts hands out, ledger.ts checkpoints, recovery here
//     replays]
//  5. Damage never stops the spool. A torn or corrupt tail of the last segment is truncated at
//     the last good frame when the spool opens; a corrupt frame found while reading truncates
//     that segment there and reading continues with the next segment. A cut while reading
//     loses a number of records known exactly (invariant 1: the next segment's name); a cut at
//     open is counted in bytes (a torn frame names no record count). Both are logged with the
//     file and offset.
//     [at open: recovery here; while reading: reader.ts]
//  6. Bytes on disk never pass maxBytes by more than one write group. When full: `block` makes
//     appends wait (the source stops reading from devices), `dropNewest` refuses new records,
//     `dropOldest` deletes the oldest segment; records given up are counted exactly.
//     [writer.ts admits appends; ledger.ts gives up the oldest segment]
//  7. A reader that keeps pace with the writer takes the records just written from memory (the
//     "tail": the frames' records, their segment and offset, bounded in bytes) instead of reading
//     and decoding the file again. A tail record is used only where the file reader would be
//     next (same seq, segment and offset), so order, numbering and replay are the same either way;
//     once the reader falls behind, the tail is dropped and reading continues from the file.
//     [reader.ts, which the writer hands each group it wrote]
//  8. A full file system never wedges the spool. Deleting delivered segments needs a durable
//     checkpoint first (invariant 2), and writing one needs a little space: the `reserve` file
//     holds that space. When the checkpoint cannot be written for lack of space, the reserve is
//     deleted and the write tried again (appends wait meanwhile, so they cannot take the space);
//     delivered segments are then deleted and the reserve is made again. While appends fail for
//     lack of space, every delivery moves the checkpoint at once instead of on the interval.
//     [ledger.ts with reserve.ts; writer.ts waits, and starts afresh once all is delivered]
//  9. One process per directory: `lock` is held with an OS lock for as long as the spool is
//     open; a second gateway on the same directory fails to open it. [lock.ts, held from open
//     to close here]
import { type FileHandle, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { OutboundRecord, Settle } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { CHECKPOINT_FILE, readCheckpoint } from './checkpoint.ts';
import {
  checkSegmentHeader,
  decodeFrame,
  emptyDictionary,
  FORMAT_VERSION,
  frameSize,
  parseSegmentName,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  type SpooledRecord,
  segmentFormat,
  segmentHeader,
  segmentName,
} from './format.ts';
import { AckLedger } from './ledger.ts';
import { lockSpoolDirectory, type SpoolLock } from './lock.ts';
import { SpoolReader } from './reader.ts';
import { Reserve } from './reserve.ts';
import { createSegmentFile, type Segment, SegmentList } from './segments.ts';
import { SpoolWriter, type WriterStart } from './writer.ts';

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

/** What recovery found and left ready: the parts start from it. */
interface Recovered extends WriterStart {
  /** In seq order; the last one is the active segment. */
  readonly segments: Segment[];
  /** Every record with seq ≤ this is done: replay starts after it. */
  readonly ackedSeq: number;
  /** The checkpoint on disk (0 when none is trusted). */
  readonly persistedSeq: number;
}

export class DiskSpool {
  readonly #o: DiskSpoolOptions;
  readonly #lock: SpoolLock;
  readonly #segments: SegmentList;
  readonly #writer: SpoolWriter;
  readonly #reader: SpoolReader;
  readonly #ledger: AckLedger;

  private constructor(opts: DiskSpoolOptions, lock: SpoolLock, recovered: Recovered, reserve: Reserve) {
    this.#o = opts;
    this.#lock = lock;
    const segments = new SegmentList(recovered.segments);
    this.#segments = segments;
    // What each part asks of the others; the functions run only once all three are made.
    this.#writer = new SpoolWriter(opts, segments, recovered, {
      appended: (group) => this.#reader.appended(group),
      restarted: (seg) => this.#reader.restartAt(seg),
      persistedSeq: () => this.#ledger.persistedSeq,
      writeFailed: () => this.#ledger.checkpointIfMoved(),
      dropOldest: () => this.#ledger.dropOldest(),
    });
    this.#reader = new SpoolReader(segments, opts.events, recovered.ackedSeq, {
      writtenSeq: () => this.#writer.writtenSeq,
      activeSegment: () => this.#writer.active,
      closed: () => this.#writer.closed,
      handOut: (seq, timestamp) => this.#ledger.handOut(seq, timestamp),
      advance: () => this.#ledger.advance(),
    });
    this.#ledger = new AckLedger(opts.dir, segments, reserve, opts.events, recovered, {
      readerNextSeq: () => this.#reader.nextSeq,
      readerSegment: () => this.#reader.segment,
      segmentDropped: (seg, next) => this.#reader.leave(seg, next),
      spaceWanted: () => this.#writer.wantsSpace,
      holdWriter: () => this.#writer.hold(),
      spaceFreed: () => this.#writer.admitWaiters(),
    });
  }

  /**
   * Opens (creating if needed) and recovers a spool directory. Throws WEIR_SPOOL_LOCKED when
   * another process has it open.
   */
  static async open(opts: DiskSpoolOptions): Promise<DiskSpool> {
    await makeDirectory(opts.dir);
    const lock = await lockSpoolDirectory(opts.dir);
    const reserve = new Reserve(opts.dir);
    let recovered: Recovered | undefined;
    try {
      recovered = await recover(opts.dir, opts.events);
      await reserve.make();
    } catch (err) {
      await recovered?.handle.close().catch(() => {});
      lock.release();
      throw err;
    }
    const spool = new DiskSpool(opts, lock, recovered, reserve);
    spool.#ledger.checkpointEvery(opts.checkpointIntervalMs);
    return spool;
  }

  get dir(): string {
    return this.#o.dir;
  }

  /**
   * Appends a record. `onAdmitted` runs once the record is admitted (QoS 0 acknowledges then);
   * `onDurable` once the fsync covering it has returned (QoS 1/2). Either may be null. With
   * `block`, a full spool delays both — that is the backpressure. With a drop policy, a record
   * given up is still "accepted": its callbacks run without error and the drop is counted.
   */
  append(topic: string, record: OutboundRecord, onAdmitted: Settle | null, onDurable: Settle | null): void {
    this.#writer.append(topic, record, onAdmitted, onDurable);
  }

  /** Resolves when records are written beyond what the reader has read (at once if they are). */
  whenReadable(): Promise<void> {
    return this.#reader.whenReadable();
  }

  /**
   * Reads the next records in seq order, about `maxBytes` of them (at least one if any is
   * written). Returns [] when the reader has caught up with the writer. Each record returned is
   * tracked: call `done(entry)` when Kafka has it. Not re-entrant: await one call before the next.
   */
  read(maxBytes: number): Promise<Array<SpooledRecord & { entry: ReadEntry }>> {
    return this.#reader.read(maxBytes);
  }

  /** Marks a record handed out by `read` as delivered. */
  done(entry: ReadEntry): void {
    this.#ledger.done(entry);
  }

  stats(): SpoolStats {
    const oldest = this.#ledger.oldestOutstanding;
    const writtenSeq = this.#writer.writtenSeq;
    const ackedSeq = this.#ledger.ackedSeq;
    return {
      segments: this.#segments.count,
      bytes: this.#segments.bytes,
      records: writtenSeq - ackedSeq,
      ackedSeq,
      lastSeq: writtenSeq,
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest.timestamp),
      waitingAppends: this.#writer.waitingAppends,
    };
  }

  /** True when every record written is done. */
  get drained(): boolean {
    return this.#writer.idle && this.#ledger.ackedSeq >= this.#writer.writtenSeq;
  }

  /**
   * Writes and fsyncs everything appended, persists the checkpoint and closes the files.
   * Appends still waiting for space get an error (they were not acknowledged).
   */
  async close(): Promise<void> {
    if (this.#writer.closed) return;
    this.#ledger.stopInterval();
    await this.#writer.stop();
    await this.#ledger.finish();
    await this.#reader.close();
    await this.#writer.close();
    this.#lock.release();
  }
}

/** Size of the frame `encodeFrame` will produce, without encoding it. */
export const frameBytes = frameSize;

// ───────────────────────────── recovery ─────────────────────────────

/**
 * Recovers a spool directory: its segments checked and cut where torn, those wholly done
 * deleted, what is done taken from the checkpoint, and the segment new records go to open.
 */
async function recover(dir: string, events: SpoolEvents): Promise<Recovered> {
  const names = await readdir(dir);
  for (const name of names) if (name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
  const firstSeqs = names
    .map(parseSegmentName)
    .filter((n): n is number => n !== null)
    .sort((a, b) => a - b);
  const segments: Segment[] = [];
  for (const firstSeq of firstSeqs) {
    const file = path.join(dir, segmentName(firstSeq));
    segments.push({
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
    events.damaged({
      file: path.join(dir, CHECKPOINT_FILE),
      offset: 0,
      reason: problem,
      records: 0,
      bytes: 0,
    });
  }
  const first = segments[0];
  let acked = checkpoint?.ackedSeq ?? (first === undefined ? 0 : first.firstSeq - 1);

  // The last segment is the only one a crash can leave torn: scan it whole now. The others are
  // checked frame by frame as they are read (invariant 5).
  const last = segments.at(-1);
  let written = acked;
  if (last !== undefined) written = last.firstSeq - 1 + (await recoverLastSegment(last, events));
  if (written <= acked) {
    // Everything on disk is done — or the checkpoint is ahead of a tail that never reached
    // the disk (records read and delivered before their fsync, then power loss). Start a
    // fresh segment right after the checkpoint so numbering stays contiguous.
    for (const seg of segments.splice(0)) await unlink(seg.file);
    written = acked;
  } else {
    // Segments whose records are all done are deleted (a crash may have left them).
    while (segments.length > 1 && segments[1]!.firstSeq - 1 <= acked) {
      await unlink(segments.shift()!.file);
    }
    const oldest = segments[0]!;
    if (oldest.firstSeq > acked + 1) {
      // Records between the checkpoint and the oldest segment are gone (a segment was removed).
      const missing = oldest.firstSeq - (acked + 1);
      events.damaged({
        file: oldest.file,
        offset: 0,
        reason: 'segments missing before this one',
        records: missing,
        bytes: 0,
      });
      acked = oldest.firstSeq - 1;
    }
  }

  const { active, handle } = await openActiveSegment(dir, segments, written);
  return {
    segments,
    active,
    handle,
    writtenSeq: written,
    ackedSeq: acked,
    persistedSeq: checkpoint?.ackedSeq ?? 0,
  };
}

/**
 * The segment new records go to, open for writing: the last one when it is in the current
 * format, else a new one (pushed onto `segments`) starting after `written`.
 */
async function openActiveSegment(
  dir: string,
  segments: Segment[],
  written: number,
): Promise<{ active: Segment; handle: FileHandle }> {
  const last = segments.at(-1);
  if (last !== undefined && last.format === FORMAT_VERSION) {
    // Appended to where it ends; the writer's encoder continues the dictionary its scan rebuilt.
    return { active: last, handle: await open(last.file, 'r+') };
  }
  // No segment, or the last was left by an older weir: that one is read as it is, written no
  // more, and new records go to a new segment. One without records (a roll just before the older
  // weir stopped) has the new segment's name: it goes first.
  if (last !== undefined && last.firstSeq === written + 1) {
    segments.pop();
    await unlink(last.file);
  }
  const { segment, handle } = await createSegmentFile(dir, written + 1);
  segments.push(segment);
  return { active: segment, handle };
}

/**
 * Validates the last segment frame by frame and truncates a torn or corrupt tail. Returns the
 * number of good records in it.
 */
async function recoverLastSegment(seg: Segment, events: SpoolEvents): Promise<number> {
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
        events.damaged({
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
      events.damaged({ file: seg.file, offset: at, reason, records: 0, bytes: data.length - at });
    }
    seg.size = at;
    return seq - seg.firstSeq;
  } finally {
    await handle.close();
  }
}

/** A segment header that names a format above the ones this weir reads. */
function isNewerFormat(header: Buffer): boolean {
  return (
    header.length >= SEGMENT_HEADER_BYTES &&
    header.subarray(0, 8).equals(SEGMENT_MAGIC) &&
    header.readUInt32LE(8) > FORMAT_VERSION
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
