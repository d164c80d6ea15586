// The reserve file: RESERVE_BYTES kept taken in the spool directory so that, on a full file
// system, giving them back makes room for the checkpoint that lets delivered segments be deleted
// (invariant 8 in spool.ts; the ledger decides when, ledger.ts).
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** Space kept free for the checkpoint on a full file system (invariant 8). */
export const RESERVE_BYTES = 64 * 1024;
export const RESERVE_FILE = 'reserve';

export class Reserve {
  readonly #file: string;
  #held = false;

  constructor(dir: string) {
    this.#file = path.join(dir, RESERVE_FILE);
  }

  /** Whether the reserve file is there, whole. */
  get held(): boolean {
    return this.#held;
  }

  /** Makes the reserve file if it is missing; on a full file system, tries again later. */
  async make(): Promise<void> {
    if (this.#held) return;
    const file = this.#file;
    const temp = `${file}.tmp`;
    try {
      this.#held = (await stat(file)).size === RESERVE_BYTES; // left by the last run
      if (this.#held) return;
    } catch {}
    try {
      const handle = await open(temp, 'w');
      try {
        // Random bytes: zeros may take no space on a file system that compresses.
        await writeAllTo(handle, randomBytes(RESERVE_BYTES));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      this.#held = true;
    } catch (err) {
      await rm(temp, { force: true }).catch(() => {});
      if (!isNoSpace(err)) throw err;
    }
  }

  /** Deletes the reserve file, giving its space to the file system. */
  async release(): Promise<void> {
    this.#held = false;
    await rm(this.#file, { force: true });
  }
}

/** Out of space: the file system is full, or the user's disk quota is. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

async function writeAllTo(handle: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; )
    at += (await handle.write(data, at, data.length - at, at)).bytesWritten;
}
