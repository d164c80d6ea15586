// The spool directory's disk, as the status checks see it: still writable (a failing SD card is
// often remounted read-only by the kernel) and how much space is left on its file system.
import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';

export interface DiskReading {
  readonly writable: boolean;
  /** Why it is not writable (an errno code such as EROFS or EACCES), else null. */
  readonly problem: string | null;
  /** Bytes an unprivileged process may still write on the file system; null when unknown. */
  readonly freeBytes: number | null;
}

export async function probeDisk(dir: string): Promise<DiskReading> {
  let problem: string | null = null;
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    problem = (err as NodeJS.ErrnoException).code ?? String(err);
  }
  let freeBytes: number | null = null;
  try {
    const fs = await statfs(dir);
    freeBytes = fs.bavail * fs.bsize;
  } catch {}
  return { writable: problem === null, problem, freeBytes };
}
