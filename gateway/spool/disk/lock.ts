// The spool directory's lock: one gateway per spool. Two writers in one directory would number
// records twice and delete each other's segments, so acknowledged messages would be lost.
//
// `lock` in the spool directory is held with an open-file-description lock (fcntl F_OFD_SETLK
// on Linux, flock elsewhere, through fs-native-extensions). The kernel releases it when the file
// is closed or the process ends in any way — kill -9 and power loss included — so a lock is
// never stale. The file's content (the holder's PID) is only for the message a second gateway
// prints; whether the directory is locked is decided by the OS lock alone, never by the file.
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import fsx from 'fs-native-extensions';
import { WeirError } from '../../errors.ts';

export const LOCK_FILE = 'lock';

export interface SpoolLock {
  /** Releases the lock (closing the file releases it; the file stays). */
  release(): void;
}

/** What `probeSpoolLock` found. */
export type LockState = { readonly held: false } | { readonly held: true; readonly pid: number | null };

/**
 * Takes the spool directory's lock, or throws WEIR_SPOOL_LOCKED naming the directory and the PID
 * holding it. Tries for `waitMs` first: `weir spool inspect` probes the lock for an instant.
 */
export async function lockSpoolDirectory(dir: string, waitMs = 1000): Promise<SpoolLock> {
  const file = path.join(dir, LOCK_FILE);
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const deadline = Date.now() + waitMs;
    while (!fsx.tryLock(fd)) {
      if (Date.now() >= deadline) {
        const pid = readPid(file);
        throw new WeirError(
          'WEIR_SPOOL_LOCKED',
          `the spool directory ${dir} is in use by another weir process${pid === null ? '' : ` (pid ${pid})`}; ` +
            'give each gateway its own spool.dir (--spool-dir), or stop the other one first',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd);
    },
  };
}

/**
 * Whether a process holds the spool directory's lock, without taking it for longer than an
 * instant (a shared lock conflicts only with the gateway's exclusive one). Changes no file.
 */
export function probeSpoolLock(dir: string): LockState {
  const file = path.join(dir, LOCK_FILE);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { held: false };
    throw err;
  }
  try {
    if (fsx.tryLock(fd, { shared: true })) return { held: false };
    return { held: true, pid: readPid(file) };
  } finally {
    closeSync(fd); // releases the probe's shared lock, if it got one
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
