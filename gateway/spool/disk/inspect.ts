// Read-only inspection of a spool directory (`weir spool inspect`): segments, checkpoint, what
// waits for Kafka, the oldest unsent record, and any damage found. Changes nothing on disk and
// holds no lock (it tests the gateway's for an instant), so it is safe to run beside a running
// gateway: it says which process holds the directory, skips segments deleted while it reads, and
// does not call the end of the segment being written "damage".
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { readCheckpoint } from './checkpoint.ts';
import {
  checkSegmentHeader,
  decodeFrame,
  emptyDictionary,
  parseSegmentName,
  SEGMENT_HEADER_BYTES,
  segmentFormat,
} from './format.ts';
import { probeSpoolLock } from './lock.ts';

export interface SegmentInfo {
  readonly file: string;
  readonly bytes: number;
  readonly firstSeq: number;
  readonly records: number;
  readonly lastSeq: number;
}

export interface SpoolInspection {
  readonly dir: string;
  /** The PID of the gateway that has the spool open (null: unknown), or false when none has. */
  readonly inUseBy: number | null | false;
  readonly checkpoint: { readonly ackedSeq: number } | null;
  readonly checkpointProblem?: string;
  readonly segments: SegmentInfo[];
  readonly bytes: number;
  readonly waiting: {
    readonly records: number;
    readonly bytes: number;
    readonly firstSeq: number | null;
    readonly lastSeq: number | null;
  };
  /** Receive time of the oldest record not yet acknowledged by Kafka, epoch ms. */
  readonly oldestUnsentAt: number | null;
  readonly damage: Array<{ readonly file: string; readonly offset: number; readonly reason: string }>;
}

export async function inspectSpool(dir: string): Promise<SpoolInspection> {
  const lock = probeSpoolLock(dir);
  const names = (await readdir(dir)).filter((n) => parseSegmentName(n) !== null).sort();
  const { checkpoint, problem } = await readCheckpoint(dir);
  const acked = checkpoint?.ackedSeq ?? 0;
  const segments: SegmentInfo[] = [];
  const damage: SpoolInspection['damage'] = [];
  let waitingRecords = 0;
  let waitingBytes = 0;
  let waitingFirst: number | null = null;
  let waitingLast: number | null = null;
  let oldest: number | null = null;
  let total = 0;
  for (const [i, name] of names.entries()) {
    const file = path.join(dir, name);
    const firstSeq = parseSegmentName(name)!;
    let data: Buffer;
    try {
      data = await readFile(file);
      total += (await stat(file)).size;
    } catch (err) {
      // Delivered and deleted by the running gateway since the listing.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const beingWritten = lock.held && i === names.length - 1;
    const headerProblem = checkSegmentHeader(data);
    if (headerProblem !== null) damage.push({ file, offset: 0, reason: headerProblem });
    let at = SEGMENT_HEADER_BYTES;
    let seq = firstSeq;
    const dict = emptyDictionary();
    while (headerProblem === null && at < data.length) {
      const r = decodeFrame(data, at, seq, segmentFormat(data), dict);
      if (r.kind !== 'record') {
        if (beingWritten && r.kind === 'incomplete') break; // the gateway is writing it now
        damage.push({
          file,
          offset: at,
          reason: r.kind === 'incomplete' ? 'torn record at the end' : r.reason,
        });
        break;
      }
      if (seq > acked) {
        waitingRecords++;
        waitingBytes += r.bytes;
        waitingFirst ??= seq;
        waitingLast = seq;
        oldest ??= r.value.record.timestamp;
      }
      at += r.bytes;
      seq++;
    }
    segments.push({ file, bytes: data.length, firstSeq, records: seq - firstSeq, lastSeq: seq - 1 });
  }
  return {
    dir,
    inUseBy: lock.held ? lock.pid : false,
    checkpoint,
    ...(problem !== undefined && { checkpointProblem: problem }),
    segments,
    bytes: total,
    waiting: { records: waitingRecords, bytes: waitingBytes, firstSeq: waitingFirst, lastSeq: waitingLast },
    oldestUnsentAt: oldest,
    damage,
  };
}

export function formatInspection(s: SpoolInspection, now = Date.now()): string {
  const lines = [`spool ${s.dir}`];
  lines.push(
    `  in use by    ${s.inUseBy === false ? 'no running gateway' : `a running gateway${s.inUseBy === null ? '' : ` (pid ${s.inUseBy})`}`}`,
  );
  lines.push(
    `  checkpoint   ${s.checkpoint === null ? 'none (nothing delivered yet)' : `every record up to seq ${s.checkpoint.ackedSeq} is in Kafka`}`,
  );
  if (s.checkpointProblem !== undefined) lines.push(`               ${s.checkpointProblem}`);
  lines.push(`  segments     ${s.segments.length}, ${formatBytes(s.bytes)} on disk`);
  for (const g of s.segments) {
    const range = g.records === 0 ? 'empty' : `seq ${g.firstSeq}–${g.lastSeq} (${g.records} records)`;
    lines.push(`    ${path.basename(g.file)}  ${formatBytes(g.bytes).padStart(10)}  ${range}`);
  }
  const w = s.waiting;
  lines.push(
    `  waiting      ${w.records} records, ${formatBytes(w.bytes)}${w.firstSeq === null ? '' : ` (seq ${w.firstSeq}–${w.lastSeq})`}`,
  );
  lines.push(
    `  oldest       ${s.oldestUnsentAt === null ? '-' : `${new Date(s.oldestUnsentAt).toISOString()} (${formatAge(now - s.oldestUnsentAt)} ago)`}`,
  );
  lines.push(`  damage       ${s.damage.length === 0 ? 'none found' : ''}`);
  for (const d of s.damage) lines.push(`    ${path.basename(d.file)} at byte ${d.offset}: ${d.reason}`);
  return lines.join('\n');
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
