// The spool's segments as its parts share them: the list in seq order, with the bytes they hold
// on disk kept counted, and the making of a new segment file. Which segment is appended to, read
// or deleted is decided by the parts (writer.ts, reader.ts, ledger.ts); the list only keeps the
// order and the count of bytes true as they change it (invariants 1 and 6 in spool.ts).
import { type FileHandle, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory } from './checkpoint.ts';
import {
  emptyDictionary,
  FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  type SegmentDictionary,
  segmentHeader,
  segmentName,
} from './format.ts';

export interface Segment {
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

export class SegmentList {
  readonly #list: Segment[];
  #bytes: number;

  /** `segments`: in seq order, as recovery found them. */
  constructor(segments: Segment[]) {
    this.#list = segments;
    this.#bytes = segments.reduce((sum, s) => sum + s.size, 0);
  }

  get count(): number {
    return this.#list.length;
  }

  /** Bytes of every segment in the list. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The segment at `index` in seq order (0: the oldest, −1: the newest). */
  at(index: number): Segment | undefined {
    return this.#list.at(index);
  }

  /**
   * The segment after `seg` (undefined after the last). A segment no longer in the list is
   * followed by the first one.
   */
  after(seg: Segment): Segment | undefined {
    return this.#list[this.#list.indexOf(seg) + 1];
  }

  add(seg: Segment): void {
    this.#list.push(seg);
    this.#bytes += seg.size;
  }

  /** Takes the oldest segment off the list (its file is the caller's to delete). */
  removeFirst(): Segment {
    const seg = this.#list.shift()!;
    this.#bytes -= seg.size;
    return seg;
  }

  /** Takes every segment off the list, each marked dropped (their files are the caller's). */
  removeAll(): Segment[] {
    const all = this.#list.splice(0);
    for (const seg of all) {
      seg.dropped = true;
      this.#bytes -= seg.size;
    }
    return all;
  }

  /** `bytes` were appended to `seg`. */
  grow(seg: Segment, bytes: number): void {
    seg.size += bytes;
    this.#bytes += bytes;
  }

  /** `seg` is cut at `size` (damage: invariant 5). */
  cut(seg: Segment, size: number): void {
    this.#bytes -= seg.size - size;
    seg.size = size;
  }
}

/**
 * Makes the segment file whose first record will be `firstSeq`: its header written and synced,
 * and the directory entry too. Returns it open for writing.
 */
export async function createSegmentFile(
  dir: string,
  firstSeq: number,
): Promise<{ segment: Segment; handle: FileHandle }> {
  const file = path.join(dir, segmentName(firstSeq));
  const handle = await open(file, 'wx+');
  try {
    await handle.write(segmentHeader(), 0, SEGMENT_HEADER_BYTES, 0);
    await handle.datasync();
    await syncDirectory(dir);
  } catch (err) {
    // E.g. no space for the header: leave no half-made segment behind, so the roll can be
    // tried again with the same name.
    await handle.close().catch(() => {});
    await unlink(file).catch(() => {});
    throw err;
  }
  const segment: Segment = {
    firstSeq,
    file,
    size: SEGMENT_HEADER_BYTES,
    dropped: false,
    format: FORMAT_VERSION,
    dict: emptyDictionary(),
  };
  return { segment, handle };
}
