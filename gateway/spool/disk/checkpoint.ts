// The spool's checkpoint: the highest sequence number such that it and every record before it
// is acknowledged by Kafka (or was given up by policy and counted). Written atomically: write a
// temp file, fsync it, rename it over the old one, fsync the directory — after a crash the file
// holds either the old or the new checkpoint, never a mix.
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

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
    const parsed = JSON.parse(text) as { version?: unknown; ackedSeq?: unknown };
    if (parsed.version === 1 && Number.isSafeInteger(parsed.ackedSeq) && (parsed.ackedSeq as number) >= 0) {
      return { checkpoint: { ackedSeq: parsed.ackedSeq as number } };
    }
  } catch {}
  return { checkpoint: null, problem: `unreadable checkpoint file: ${JSON.stringify(text.slice(0, 80))}` };
}

export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const file = path.join(dir, CHECKPOINT_FILE);
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(`${JSON.stringify({ version: 1, ackedSeq: checkpoint.ackedSeq })}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(dir);
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
