// The machine profile a case runs its servers under. By default a server gets the whole machine.
// `--pi` stands in for a Raspberry Pi–class box: every server under test (weir, aedes, mosquitto,
// Telegraf, the naive bridge) is pinned to one core with `taskset -c 0` and given a memory cap,
// while the load generator runs on the other cores so it does not take the server's core.
//
// The cap is what each runtime offers, not a kernel limit: `systemd-run --scope -p MemoryMax=`
// needs systemd as PID 1 (not so in the containers these benchmarks usually run in), and
// `prlimit --as` caps address space, which Go and the JVM reserve far beyond what they use, so it
// would fail them at start rather than cap them. What is used instead:
// - Node (weir, aedes, the bridge): `--max-old-space-size` = the cap (the V8 heap; RSS also holds
//   code, Buffers and native memory, so it may exceed the cap a little);
// - mosquitto: `memory_limit` in its config (its own allocation count; beyond it a message is
//   refused and its publisher disconnected), half the cap when it shares it with Telegraf;
// - Telegraf (Go): `GOMEMLIMIT` (a target the garbage collector works to, not a wall), the other half.
// Cases report the RSS they measured beside the cap, so what was really used is on record.
import os from 'node:os';
import process from 'node:process';

export interface Profile {
  /** '' (the whole machine) or 'pi'; results of a profiled run are written as `<case>-pi`. */
  readonly name: '' | 'pi';
  /** For results: what the servers ran under. */
  readonly description: string;
  /** taskset CPU list for servers under test, or null. */
  readonly serverCpus: string | null;
  /** taskset CPU list for the load generator, or null. */
  readonly loadCpus: string | null;
  /** Memory cap of a server under test, MB, or null. */
  readonly memoryMb: number | null;
}

const cores = os.cpus().length;
const WHOLE_MACHINE: Profile = {
  name: '',
  description: `whole machine (${cores} cores, no memory cap)`,
  serverCpus: null,
  loadCpus: null,
  memoryMb: null,
};

let current: Profile = WHOLE_MACHINE;

export const DEFAULT_PI_MEMORY_MB = 256;

/** Called once by the case's option parsing. */
export function setProfile(o: { pi: boolean; memoryMb?: number }): void {
  if (!o.pi) {
    current = WHOLE_MACHINE;
    return;
  }
  const memoryMb = o.memoryMb ?? DEFAULT_PI_MEMORY_MB;
  current = {
    name: 'pi',
    description:
      `Pi-class: each server under test pinned to core 0 (taskset -c 0), memory cap ${memoryMb} MB a ` +
      'system (Node --max-old-space-size; mosquitto memory_limit; Telegraf GOMEMLIMIT; mosquitto + ' +
      'Telegraf half each); ' +
      `load generator on ${cores > 2 ? `cores 1-${cores - 1}` : cores === 2 ? 'core 1' : 'core 0 too (one core)'}`,
    serverCpus: '0',
    loadCpus: cores > 1 ? `1-${cores - 1}` : null,
    memoryMb,
  };
}

export function profile(): Profile {
  return current;
}

/**
 * The command line of a server under test in the current profile: pinned with taskset, and a
 * Node program (no `cmd`) with its heap capped.
 */
export function serverCommand(cmd: string | undefined, args: readonly string[]): [string, string[]] {
  const node = cmd === undefined;
  const fullArgs = [
    ...(node && current.memoryMb !== null ? [`--max-old-space-size=${current.memoryMb}`] : []),
    ...args,
  ];
  const program = cmd ?? process.execPath;
  return pinned(current.serverCpus, program, fullArgs);
}

/** The command line of the load generator in the current profile (off the servers' core). */
export function loadCommand(args: readonly string[]): [string, string[]] {
  return pinned(current.loadCpus, process.execPath, [...args]);
}

function pinned(cpus: string | null, program: string, args: string[]): [string, string[]] {
  // taskset execs the program: the pid the case sees is the server's own.
  return cpus === null ? [program, args] : ['taskset', ['-c', cpus, program, ...args]];
}
