// The spool's checkpoint: the highest sequence number such that it and every record before it
// is acknowledged by Kafka (or was given up by policy and counted). Written atomically: write a
// temp file, fsync it, rename it over the old one, fsync the directory — after a crash the file
// holds either the old or the new checkpoint, never a mix.
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export const CHECKPOINT_FILE = 'checkpoint.json';

export interface Checkpoint {
  /** Every record with seq ≤ ackedSeq is done. 0 when nothing is. */
  readonly ackedSeq: number;
}

/** Reads the checkpoint; null when there is none. A damaged file is reported, not trusted. */
export async function readCheckpoint(
  dir: string,
): Promise<{ checkpoint: Checkpoint | null; problem?: string }> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { checkpoint: null };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; ackedSeq?: unknown; crc?: unknown };
    // The check is absent in files of older weirs; where present it must match (an overwrite in
    // place torn by a crash can still parse: 1234 → 2034).
    const checked = parsed.crc === undefined || parsed.crc === crc32(String(parsed.ackedSeq));
    if (
      parsed.version === 1 &&
      checked &&
      Number.isSafeInteger(parsed.ackedSeq) &&
      (parsed.ackedSeq as number) >= 0
    ) {
      return { checkpoint: { ackedSeq: parsed.ackedSeq as number } };
    }
  } catch {}
  return { checkpoint: null, problem: `unreadable checkpoint file: ${JSON.stringify(text.slice(0, 80))}` };
}

export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const file = path.join(dir, CHECKPOINT_FILE);
  const temp = `${file}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(checkpointText(checkpoint));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
}

/**
 * Writes the checkpoint over the existing file's bytes, in place: needs no new space on the file
 * system (the last resort when it is full), but is not atomic — a crash in the middle leaves a
 * file that readCheckpoint reports unreadable. Throws ENOENT when there is no checkpoint yet.
 */
export async function overwriteCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const handle = await open(path.join(dir, CHECKPOINT_FILE), 'r+');
  try {
    const text = Buffer.from(checkpointText(checkpoint));
    await handle.write(text, 0, text.length, 0);
    await handle.truncate(text.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function checkpointText(checkpoint: Checkpoint): string {
  const seq = checkpoint.ackedSeq;
  return `${JSON.stringify({ version: 1, ackedSeq: seq, crc: crc32(String(seq)) })}\n`;
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
