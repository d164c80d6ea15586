// The ack ledger: which records are done, and what follows from that. It tracks each record the
// reader hands out until it is delivered and moves `ackedSeq` over every record done (invariant 4
// in spool.ts); persists it as the checkpoint (checkpoint.ts) on the interval, or at once while
// space is short; then deletes the segments wholly done (invariant 2), the reserve's space lending
// the checkpoint room on a full file system (invariant 8, reserve.ts). dropOldest gives up the
// oldest segment here too: its records are done by policy, and counted (invariant 6).
import { unlink } from 'node:fs/promises';
import { type Checkpoint, overwriteCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { isNoSpace, type Reserve } from './reserve.ts';
import type { Segment, SegmentList } from './segments.ts';
import type { ReadEntry, SpoolEvents } from './spool.ts';

/** What the ledger asks of the reader and the writer (spool.ts connects them). */
export interface LedgerPeers {
  /** The seq the reader hands out next: every record before it was handed out or passed. */
  readerNextSeq(): number;
  /** The segment the reader is in: not deleted under it. */
  readerSegment(): Segment;
  /** dropOldest removed `seg`: a reader in it moves on to `next`. */
  segmentDropped(seg: Segment, next: Segment): void;
  /** Appends wait for space, or writes fail: every delivery moves the checkpoint at once. */
  spaceWanted(): boolean;
  /** Holds the writer once its group in flight is done; returns what lets it go on. */
  holdWriter(): Promise<() => void>;
  /** Segments were deleted: appends waiting for space may go ahead. */
  spaceFreed(): void;
}

export class AckLedger {
  readonly #dir: string;
  readonly #segments: SegmentList;
  readonly #reserve: Reserve;
  readonly #events: SpoolEvents;
  readonly #peers: LedgerPeers;
  /** Records handed out, in seq order; those before `#handedHead` are done. */
  #handedOut: ReadEntry[] = [];
  #handedHead = 0;
  #ackedSeq: number;
  /** The ackedSeq of the checkpoint on disk. */
  #persistedSeq: number;
  #checkpointTimer: NodeJS.Timeout | null = null;
  #checkpointing: Promise<void> | null = null;

  constructor(
    dir: string,
    segments: SegmentList,
    reserve: Reserve,
    events: SpoolEvents,
    start: { readonly ackedSeq: number; readonly persistedSeq: number },
    peers: LedgerPeers,
  ) {
    this.#dir = dir;
    this.#segments = segments;
    this.#reserve = reserve;
    this.#events = events;
    this.#ackedSeq = start.ackedSeq;
    this.#persistedSeq = start.persistedSeq;
    this.#peers = peers;
  }

  /** Every record with seq ≤ this is done. */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** Every record with seq ≤ this is done, and the checkpoint on disk says so. */
  get persistedSeq(): number {
    return this.#persistedSeq;
  }

  /** The oldest record handed out and not yet done, if any. */
  get oldestOutstanding(): ReadEntry | undefined {
    return this.#handedOut[this.#handedHead];
  }

  /** Persists the checkpoint every `ms` (the timer does not keep the process alive). */
  checkpointEvery(ms: number): void {
    this.#checkpointTimer = setInterval(() => void this.checkpoint(), ms);
    this.#checkpointTimer.unref();
  }

  stopInterval(): void {
    if (this.#checkpointTimer !== null) clearInterval(this.#checkpointTimer);
  }

  /** Tracks a record the reader hands out, until `done` is called with the entry returned. */
  handOut(seq: number, timestamp: number): ReadEntry {
    const entry: ReadEntry = { seq, timestamp, done: false };
    this.#handedOut.push(entry);
    return entry;
  }

  /** Marks a record handed out by `read` as delivered. */
  done(entry: ReadEntry): void {
    entry.done = true;
    this.advance();
  }

  /**
   * Moves ackedSeq over the records done, and over those the reader passed without handing
   * them out (already checkpointed, lost to damage, dropped) once nothing before them is
   * outstanding.
   */
  advance(): void {
    const q = this.#handedOut;
    let head = this.#handedHead;
    while (head < q.length && q[head]!.done) {
      this.#ackedSeq = q[head]!.seq;
      head++;
    }
    if (head === q.length) {
      // Nothing outstanding: everything before the reader is done or was given up and counted.
      this.#ackedSeq = Math.max(this.#ackedSeq, this.#peers.readerNextSeq() - 1);
      q.length = 0;
      head = 0;
    } else if (head > 4096 && head * 2 > q.length) {
      q.splice(0, head);
      head = 0;
    }
    this.#handedHead = head;
    if (this.#peers.spaceWanted() && this.#ackedSeq > this.#persistedSeq) void this.checkpoint();
  }

  /** Writing failed: space may be held by delivered segments, so free it as soon as it moved. */
  checkpointIfMoved(): void {
    if (this.#ackedSeq > this.#persistedSeq) void this.checkpoint();
  }

  /** Persists the checkpoint if it moved, then deletes segments that are wholly done. */
  checkpoint(): Promise<void> {
    if (this.#checkpointing !== null) return this.#checkpointing;
    const running = this.#persistCheckpoint().finally(() => {
      if (this.#checkpointing === running) this.#checkpointing = null;
    });
    this.#checkpointing = running;
    return running;
  }

  /** At close: waits for a checkpoint being written, then writes the last one. */
  async finish(): Promise<void> {
    await this.#checkpointing;
    await this.checkpoint();
  }

  async #persistCheckpoint(): Promise<void> {
    let releaseWriter: (() => void) | null = null;
    try {
      const acked = this.#ackedSeq;
      if (acked > this.#persistedSeq) {
        try {
          await writeCheckpoint(this.#dir, { ackedSeq: acked } satisfies Checkpoint);
        } catch (err) {
          if (!isNoSpace(err)) throw err;
          // The file system is full (invariant 8): hold the writer — once its group in flight is
          // done — so that it cannot take the reserve's space, until the reserve is back.
          releaseWriter = await this.#peers.holdWriter();
          await this.#writeCheckpointWithoutSpace({ ackedSeq: acked });
        }
        this.#persistedSeq = acked;
      }
      while (this.#oldestIsDone()) await unlink(this.#segments.removeFirst().file);
      await this.#reserve.make();
      this.#peers.spaceFreed();
    } catch (err) {
      this.#events.ioError(err as Error, 'checkpoint');
    } finally {
      releaseWriter?.();
    }
  }

  /**
   * Whether every record of the oldest segment is done and checkpointed (its last seq is the next
   * segment's first − 1), and the reader has left it. The active segment is never deleted here.
   */
  #oldestIsDone(): boolean {
    const next = this.#segments.at(1);
    return (
      next !== undefined &&
      next.firstSeq - 1 <= this.#persistedSeq &&
      this.#segments.at(0) !== this.#peers.readerSegment()
    );
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
      await writeCheckpoint(this.#dir, checkpoint);
    } else {
      await overwriteCheckpoint(this.#dir, checkpoint);
    }
  }

  /**
   * dropOldest: deletes the oldest segment (the caller makes sure it is not the only one) and
   * counts the records in it that were never handed out.
   */
  dropOldest(): void {
    const seg = this.#segments.removeFirst();
    const next = this.#segments.at(0)!;
    const lastSeq = next.firstSeq - 1;
    const from = Math.max(seg.firstSeq, this.#peers.readerNextSeq());
    const unread = Math.max(0, lastSeq - from + 1);
    seg.dropped = true;
    this.#peers.segmentDropped(seg, next);
    if (unread > 0) this.#events.dropped(unread);
    unlink(seg.file).catch((err: unknown) => this.#events.ioError(err as Error, 'delete'));
    this.advance();
  }
}
