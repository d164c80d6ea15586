// The process of a local service: one JVM per state dir, started in the background, known by its
// pid file, stopped with SIGTERM and, after a grace period, SIGKILL.
//
// Files in a state dir (NAME is the service's fileName):
//   NAME.pid       the JVM's pid, written as soon as it is spawned, removed when it is gone
//   NAME.json      what the service needs to know about the running instance (port, version, ...)
//   logs/NAME.out  the JVM's stdout and stderr, rewritten on every start
// A pid from the pid file counts only while that process is alive and its command line carries the
// state dir's mark (dirMark, a -D property every service puts on its JVM's command line): a reused
// pid or a zombie is not the service.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from './run.ts';
import { type LocalServiceSpec, type Log, noLog } from './service.ts';

/** $XDG_STATE_HOME/weir/`name`, or ~/.local/state/weir/`name`. */
export function stateDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const state = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(state, 'weir', name);
}

/** Asks `check` every `intervalMs` until it says yes (true) or `deadline` passes (false). */
export async function pollUntil(
  check: () => Promise<boolean>,
  deadline: number,
  intervalMs = 250,
): Promise<boolean> {
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** What starting any local service takes; each service adds its own and says its defaults. */
export interface StartServiceOptions {
  /** The state dir. */
  dir?: string;
  /** The JVM's heap, MiB. */
  heapMb?: number;
  version?: string;
  /** Where the shared download cache lives (under ~/.cache/weir). */
  cacheDir?: string;
  /** How long to wait for it to answer once the JVM is spawned. */
  timeoutMs?: number;
  /**
   * Start the JVM in its own session so it outlives this process (default true, what the CLI
   * wants). Tests pass false so that Ctrl-C on the test run reaches the JVM too.
   */
  detached?: boolean;
  log?: Log;
}

export interface ServiceStatus<S> {
  running: boolean;
  /** Whether it answered (only asked when it runs). */
  answering: boolean;
  dir: string;
  pid?: number;
  /** Its state file (when it runs). */
  state?: S;
  logFile: string;
}

/** How a running instance is reached, and asked whether it answers, from its state file. */
export interface Probe<S> {
  address: (state: S) => string;
  answers: (state: S) => Promise<boolean>;
}

export interface SpawnedService {
  child: ChildProcess;
  pid: number;
  /** How the JVM ended ('exit code 1', 'signal SIGKILL', a spawn error), or undefined while it runs. */
  exited: () => string | undefined;
}

/** A local service's processes: one per state dir, each method given the state dir it is about. */
export class LocalService implements LocalServiceSpec {
  readonly name: string;
  readonly fileName: string;
  readonly command: string;
  readonly mainClass: string | undefined;
  readonly error: LocalServiceSpec['error'];

  constructor(spec: LocalServiceSpec) {
    this.name = spec.name;
    this.fileName = spec.fileName;
    this.command = spec.command;
    this.mainClass = spec.mainClass;
    this.error = spec.error;
  }

  files(dir: string): { pidFile: string; stateFile: string; logFile: string } {
    return {
      pidFile: join(dir, `${this.fileName}.pid`),
      stateFile: join(dir, `${this.fileName}.json`),
      logFile: join(dir, 'logs', `${this.fileName}.out`),
    };
  }

  /** The JVM argument that marks a process as the service started for `dir`. */
  dirMark(dir: string): string {
    return `-Dweir.${this.fileName}.dir=${dir}`;
  }

  async readPid(dir: string): Promise<number | undefined> {
    try {
      const pid = Number((await readFile(this.files(dir).pidFile, 'utf8')).trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async readState<S>(dir: string): Promise<S | undefined> {
    try {
      return JSON.parse(await readFile(this.files(dir).stateFile, 'utf8')) as S;
    } catch {
      return undefined;
    }
  }

  async writeState(dir: string, state: object): Promise<void> {
    await writeFile(this.files(dir).stateFile, `${JSON.stringify(state, null, 2)}\n`);
  }

  /** True when `pid` is a live (not zombie) instance started for `dir`. */
  async isInstance(dir: string, pid: number): Promise<boolean> {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return process.platform !== 'linux'; // no /proc: trust the pid file
    }
    // A zombie has an empty cmdline; a reused pid has someone else's.
    const args = cmdline.split('\0');
    return (
      args.includes(this.dirMark(dir)) && (this.mainClass === undefined || args.includes(this.mainClass))
    );
  }

  /** The pid of the instance running for `dir`, or undefined when none runs. */
  async runningPid(dir: string): Promise<number | undefined> {
    const pid = await this.readPid(dir);
    return pid !== undefined && (await this.isInstance(dir, pid)) ? pid : undefined;
  }

  /** Whether an instance runs for `dir`, and whether it answers `answers` (asked with its state file). */
  async status<S>(dir: string, answers: (state: S) => Promise<boolean>): Promise<ServiceStatus<S>> {
    const { logFile } = this.files(dir);
    const pid = await this.runningPid(dir);
    if (pid === undefined) return { running: false, answering: false, dir, logFile };
    const state = await this.readState<S>(dir);
    const answering = state !== undefined && (await answers(state));
    return { running: true, answering, dir, pid, state, logFile };
  }

  /** The last lines of the instance's log (empty when there is no log). */
  async logTail(dir: string, lines = 40): Promise<string> {
    try {
      return tail(await readFile(this.files(dir).logFile, 'utf8'), lines);
    } catch {
      return '';
    }
  }

  /**
   * The instance already running for `dir` and its state, once it answers; undefined, with any
   * stale pid file removed, when none runs. It may still be starting (another start), so it gets
   * the same time budget as a start. Throws NOT_ANSWERING when it has no state file or does not
   * answer in time. A start that asked for another `port` (0: any) is told that the instance keeps
   * its own.
   */
  async runningInstance<S extends { port: number }>(
    dir: string,
    probe: Probe<S>,
    start: { timeoutMs: number; port?: number; log?: Log },
  ): Promise<{ pid: number; state: S } | undefined> {
    const files = this.files(dir);
    const pid = await this.runningPid(dir);
    if (pid === undefined) {
      await rm(files.pidFile, { force: true });
      return undefined;
    }
    const stop = `\`${this.command} stop --dir ${dir}\``;
    const state = await this.readState<S>(dir);
    if (state === undefined) {
      throw this.error(
        'NOT_ANSWERING',
        `${this.name} (pid ${pid}) runs for ${dir} but ${files.stateFile} is missing; run ${stop}`,
      );
    }
    if (!(await pollUntil(() => probe.answers(state), Date.now() + start.timeoutMs))) {
      throw this.error(
        'NOT_ANSWERING',
        `${this.name} (pid ${pid}) runs for ${dir} but does not answer at ${probe.address(state)}; see ${files.logFile} or run ${stop}`,
        { logTail: await this.logTail(dir) },
      );
    }
    if (start.port !== undefined && start.port !== 0 && start.port !== state.port) {
      (start.log ?? noLog)(
        `note: already running on port ${state.port}, not ${start.port}; stop it first to change ports`,
      );
    }
    return { pid, state };
  }

  /**
   * Spawns the service's JVM in `dir` with its output in the log file and writes the pid file.
   * `detached` starts it in its own session, so that it outlives this process.
   */
  async spawn(dir: string, java: string, args: string[], detached: boolean): Promise<SpawnedService> {
    const files = this.files(dir);
    await mkdir(join(dir, 'logs'), { recursive: true });
    const out = openSync(files.logFile, 'w');
    const child = spawn(java, args, { cwd: dir, detached, stdio: ['ignore', out, out] });
    closeSync(out);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
    });
    child.once('error', (e) => {
      exited = e.message;
    });
    const pid = child.pid;
    if (pid === undefined) {
      await sleep(10); // let 'error' fire
      throw this.error('START_FAILED', `could not start ${java}: ${exited ?? 'no pid'}`);
    }
    await writeFile(files.pidFile, `${pid}\n`);
    return { child, pid, exited: () => exited };
  }

  /**
   * Asks `ready` every 200 ms until it says yes: 'ready'; 'timeout' once `deadline` passed; how
   * the JVM ended, with its pid file removed, when it exited first.
   */
  async waitReady(
    dir: string,
    o: { exited: () => string | undefined; ready: () => Promise<boolean>; deadline: number },
  ): Promise<'ready' | 'timeout' | { exited: string }> {
    for (;;) {
      const exited = o.exited();
      if (exited !== undefined) {
        await rm(this.files(dir).pidFile, { force: true });
        return { exited };
      }
      if (await o.ready()) return 'ready';
      if (Date.now() >= o.deadline) return 'timeout';
      await sleep(200);
    }
  }

  /** Stops the instance running for `dir`: SIGTERM, then SIGKILL after `timeoutMs` (default 30 s). */
  async stop(
    dir: string,
    opts: { timeoutMs?: number; log?: Log } = {},
  ): Promise<{ wasRunning: boolean; pid?: number; killed: boolean }> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const log = opts.log ?? noLog;
    const { pidFile } = this.files(dir);
    const pid = await this.runningPid(dir);
    if (pid === undefined) {
      await rm(pidFile, { force: true });
      return { wasRunning: false, killed: false };
    }
    const waitGone = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        if (!(await this.isInstance(dir, pid))) return true;
        await sleep(100);
      }
      return !(await this.isInstance(dir, pid));
    };
    let killed = false;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
    if (!(await waitGone(timeoutMs))) {
      log(`${this.name} (pid ${pid}) did not stop within ${Math.round(timeoutMs / 1000)} s; killing it`);
      killed = true;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
      if (!(await waitGone(5_000))) {
        throw this.error('STOP_FAILED', `${this.name} (pid ${pid}) survived SIGKILL`);
      }
    }
    await rm(pidFile, { force: true });
    return { wasRunning: true, pid, killed };
  }
}
