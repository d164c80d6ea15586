// The reader: hands records out in seq order, each once per process lifetime (invariant 4 in
// spool.ts). It reads the segments one after another, each from its start so that its dictionary
// is rebuilt (format.ts); a corrupt frame cuts its segment there and reading goes on with the
// next one (invariant 5). A reader that keeps pace with the writer takes the records just written
// from the tail kept in memory instead (invariant 7; the tail is kept here, the writer hands it
// each group it wrote). It never reads through the file of a segment dropOldest removed: a
// segment's file is opened afresh when the reader moves to it, and a read that raced a drop is
// thrown away.
import { type FileHandle, open } from 'node:fs/promises';
import type { OutboundRecord } from '../../contracts.ts';
import { decodeFrame, SEGMENT_HEADER_BYTES, type SpooledRecord } from './format.ts';
import type { Segment, SegmentList } from './segments.ts';
import type { ReadEntry, SpoolEvents } from './spool.ts';

const MIN_READ = 256 * 1024;
const MAX_READ = 8 * 1024 * 1024;
const TAIL_MAX_BYTES = 4 * 1024 * 1024;

/** What the reader asks of the writer and the ledger (spool.ts connects them). */
export interface ReaderPeers {
  /** Last seq written to a file: the reader stops there. */
  writtenSeq(): number;
  /** The segment being appended to: damage in it is skipped, not cut off (writes go on after it). */
  activeSegment(): Segment;
  /** The spool is closing: nothing more is handed out. */
  closed(): boolean;
  /** Tracks a record being handed out until it is done (the ledger). */
  handOut(seq: number, timestamp: number): ReadEntry;
  /** Records were passed without being handed out (checkpointed already, or lost): done too. */
  advance(): void;
}

/** A group of records the writer has just written, one frame each, one after another. */
export interface WrittenGroup {
  readonly records: ReadonlyArray<{ readonly topic: string; readonly record: OutboundRecord }>;
  /** Each record's frame size. */
  readonly sizes: readonly number[];
  /** Their sum. */
  readonly bytes: number;
  readonly firstSeq: number;
  readonly segment: Segment;
  /** Where the first frame starts in the segment. */
  readonly offset: number;
}

export class SpoolReader {
  readonly #segments: SegmentList;
  readonly #events: SpoolEvents;
  readonly #peers: ReaderPeers;
  #segment: Segment;
  #handle: FileHandle | null = null;
  #offset = SEGMENT_HEADER_BYTES;
  #nextSeq: number;
  /** Records with seq ≤ this are already done (from the checkpoint): read past, not handed out. */
  readonly #skipThrough: number;
  #appendedWaiters: Array<() => void> = [];
  readonly #tail = new Tail();

  /** Starts at the beginning of the oldest segment. */
  constructor(segments: SegmentList, events: SpoolEvents, skipThrough: number, peers: ReaderPeers) {
    this.#segments = segments;
    this.#events = events;
    this.#peers = peers;
    this.#segment = segments.at(0)!;
    this.#nextSeq = this.#segment.firstSeq;
    this.#skipThrough = skipThrough;
  }

  /** The seq handed out next: every record before it was handed out or passed. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** The segment being read. */
  get segment(): Segment {
    return this.#segment;
  }

  /** Resolves when records are written beyond what the reader has read (at once if they are). */
  whenReadable(): Promise<void> {
    if (this.#nextSeq <= this.#peers.writtenSeq() || this.#peers.closed()) return Promise.resolve();
    return new Promise((resolve) => this.#appendedWaiters.push(resolve));
  }

  /**
   * Reads the next records in seq order, about `maxBytes` of them (at least one if any is
   * written). Returns [] when the reader has caught up with the writer. Each record returned is
   * tracked by the ledger until it is done. Not re-entrant: await one call before the next.
   */
  async read(maxBytes: number): Promise<Array<SpooledRecord & { entry: ReadEntry }>> {
    const out: Array<SpooledRecord & { entry: ReadEntry }> = [];
    let outBytes = 0;
    let need = 0;
    while (out.length === 0 && this.#nextSeq <= this.#peers.writtenSeq() && !this.#peers.closed()) {
      const seg = this.#segment;
      const limit = seg.size;
      if (this.#offset >= limit) {
        const next = this.#segments.after(seg);
        if (next === undefined) return out; // caught up inside the active segment
        if (this.#nextSeq < next.firstSeq) {
          this.#damageFound(seg, this.#offset, 'segment ends before its last record', next);
        } else {
          this.#moveTo(next);
        }
        continue;
      }
      if (this.#takeFromTail(seg, out, maxBytes)) continue;
      const handle = await this.#fileOf(seg);
      if (handle === null) continue; // moved on (dropOldest) while the file opened
      const length = Math.min(limit - this.#offset, Math.max(MIN_READ, Math.min(maxBytes, MAX_READ), need));
      const buf = Buffer.allocUnsafe(length);
      const offset = this.#offset;
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      if (seg.dropped || this.#segment !== seg || this.#offset !== offset) continue; // dropped meanwhile
      const data = buf.subarray(0, bytesRead);
      let at = 0;
      while (at < data.length && outBytes < maxBytes) {
        const r = decodeFrame(data, at, this.#nextSeq, seg.format, seg.dict);
        if (r.kind === 'record') {
          at += r.bytes;
          this.#nextSeq++;
          if (r.value.seq <= this.#skipThrough) continue;
          const entry = this.#peers.handOut(r.value.seq, r.value.record.timestamp);
          out.push({ ...r.value, entry });
          outBytes += r.bytes;
          continue;
        }
        if (r.kind === 'incomplete' && offset + at + r.needBytes <= limit && bytesRead === length) {
          need = r.needBytes; // the frame continues past this chunk: read more next round
          break;
        }
        const reason = r.kind === 'incomplete' ? 'frame runs past the end of the segment' : r.reason;
        this.#offset = offset + at;
        this.#damageFound(seg, offset + at, reason, this.#segments.after(seg));
        at = -1;
        break;
      }
      if (at >= 0) this.#offset = offset + at;
    }
    if (out.length === 0) this.#peers.advance(); // records skipped (checkpoint, damage) are done too
    return out;
  }

  /** The writer wrote `group`: kept for this reader if it is caught up, and a waiting read wakes. */
  appended(group: WrittenGroup): void {
    this.#tail.keep(group, this.#nextSeq);
    for (const wake of this.#appendedWaiters.splice(0)) wake();
  }

  /** dropOldest removed `seg`: if the reader is in it, it moves on to `next`. */
  leave(seg: Segment, next: Segment): void {
    if (this.#segment === seg) this.#moveTo(next);
  }

  /** Every segment was deleted and `seg` begun (writer.ts, startFresh): the reader starts there. */
  restartAt(seg: Segment): void {
    this.#tail.drop();
    this.#moveTo(seg);
  }

  /** At close: wakes a waiting read (it finds the spool closed) and closes the file. */
  async close(): Promise<void> {
    for (const wake of this.#appendedWaiters.splice(0)) wake();
    this.#tail.drop();
    await this.#handle?.close().catch(() => {});
    this.#handle = null;
  }

  /**
   * Takes records from the tail where the file reader would be next (invariant 7). Returns
   * whether it took any.
   */
  #takeFromTail(seg: Segment, out: Array<SpooledRecord & { entry: ReadEntry }>, maxBytes: number): boolean {
    const taken = this.#tail.take(this.#nextSeq, seg, this.#offset, maxBytes);
    for (const t of taken) {
      this.#offset += t.bytes;
      this.#nextSeq++;
      const entry = this.#peers.handOut(t.seq, t.record.timestamp);
      out.push({ seq: t.seq, topic: t.topic, record: t.record, entry });
    }
    return taken.length > 0;
  }

  /** The open file of `seg`; null when the reader moved to another segment while it opened. */
  async #fileOf(seg: Segment): Promise<FileHandle | null> {
    if (this.#handle !== null) return this.#handle;
    const handle = await open(seg.file, 'r');
    if (this.#segment !== seg || this.#handle !== null || seg.dropped) {
      await handle.close();
      return null;
    }
    this.#handle = handle;
    return handle;
  }

  #moveTo(seg: Segment): void {
    const old = this.#handle;
    this.#handle = null;
    old?.close().catch(() => {});
    this.#segment = seg;
    this.#offset = SEGMENT_HEADER_BYTES;
    if (seg.firstSeq > this.#nextSeq) this.#nextSeq = seg.firstSeq;
  }

  /** A corrupt frame at `offset`: cut the segment there and continue with the next one. */
  #damageFound(seg: Segment, offset: number, reason: string, next: Segment | undefined): void {
    const endSeq = next === undefined ? this.#peers.writtenSeq() : next.firstSeq - 1;
    const lost = Math.max(0, endSeq - this.#nextSeq + 1);
    const bytes = seg.size - offset;
    this.#events.damaged({ file: seg.file, offset, reason, records: lost, bytes });
    if (seg !== this.#peers.activeSegment()) {
      this.#segments.cut(seg, offset);
      truncateFile(seg.file, offset).catch((err: unknown) => this.#events.ioError(err as Error, 'truncate'));
    }
    if (next !== undefined) {
      this.#moveTo(next);
    } else {
      // Damage inside the active segment: the writer keeps appending after it; skip to its end.
      this.#offset = seg.size;
      this.#nextSeq = this.#peers.writtenSeq() + 1;
    }
  }
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

/**
 * The tail: records just written, in seq order and without gaps, at most TAIL_MAX_BYTES of
 * frames. Records before `#head` are taken.
 */
class Tail {
  #records: TailRecord[] = [];
  #head = 0;
  #bytes = 0;

  /**
   * Keeps a group just written (at the end of the active segment): only when it continues the
   * tail, or when `readerNextSeq` is its first record. Otherwise the tail is dropped.
   */
  keep(group: WrittenGroup, readerNextSeq: number): void {
    const { firstSeq, segment, sizes } = group;
    const last = this.#records.length > this.#head ? this.#records.at(-1)! : undefined;
    const continues = last === undefined ? readerNextSeq === firstSeq : last.seq + 1 === firstSeq;
    if (!continues || this.#bytes + group.bytes > TAIL_MAX_BYTES) {
      this.drop();
      return;
    }
    let offset = group.offset;
    for (let i = 0; i < group.records.length; i++) {
      const r = group.records[i]!;
      this.#records.push({
        seq: firstSeq + i,
        topic: r.topic,
        record: r.record,
        bytes: sizes[i]!,
        segment,
        offset,
      });
      offset += sizes[i]!;
    }
    this.#bytes += group.bytes;
  }

  /**
   * Takes the records that continue exactly where the file reader is (`seq`, at `offset` of
   * `segment`), about `maxBytes` of them; records before `seq` are let go.
   */
  take(seq: number, segment: Segment, offset: number, maxBytes: number): TailRecord[] {
    const records = this.#records;
    let head = this.#head;
    // Records the file reader has passed already.
    while (head < records.length && records[head]!.seq < seq) this.#bytes -= records[head++]!.bytes;
    const taken: TailRecord[] = [];
    let at = offset;
    let takenBytes = 0;
    while (head < records.length && takenBytes < maxBytes) {
      const t = records[head]!;
      if (t.seq !== seq + taken.length || t.segment !== segment || t.offset !== at) break;
      head++;
      this.#bytes -= t.bytes;
      at += t.bytes;
      takenBytes += t.bytes;
      taken.push(t);
    }
    if (head === records.length) this.drop();
    else this.#head = head;
    return taken;
  }

  drop(): void {
    this.#records = [];
    this.#head = 0;
    this.#bytes = 0;
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
