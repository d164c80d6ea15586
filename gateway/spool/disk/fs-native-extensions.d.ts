// Types for the part of fs-native-extensions the spool lock uses (the package ships none).
declare module 'fs-native-extensions' {
  /** Takes a lock on the open file `fd` without waiting; false when another holder has it. */
  export function tryLock(fd: number, opts?: { shared?: boolean }): boolean;
  export function unlock(fd: number): void;
  const fsx: { tryLock: typeof tryLock; unlock: typeof unlock };
  export default fsx;
}
