// A local Confluent-compatible Schema Registry for development and tests: Apicurio Registry, run
// from its distribution on Maven Central (io.apicurio:apicurio-registry-app:VERSION:tar.gz:all),
// on 127.0.0.1, with in-memory storage (H2 in memory: every start begins empty). No Docker.
//
// Version: Apicurio Registry 3.0.9, the newest release that runs on Java 17. Maven Central also
// serves 3.3.2 and 3.3.3, but those are compiled for Java 21 (class file version 65) and stop at
// start-up on Java 17 with UnsupportedClassVersionError. 3.0.9's parent pom
// (io.apicurio:apicurio-registry:3.0.9) is missing from Maven Central, so current versions of
// maven-dependency-plugin refuse the artifact ("Failed to read artifact descriptor"); version 2.8
// of the plugin copies it without reading its descriptor, and Maven keeps it in ~/.m2.
//
// The Confluent Schema Registry API is served under /apis/ccompat/v7 (LocalRegistryInfo.url).
// Apicurio's default compatibility rule is NONE; Confluent's is BACKWARD, and so is this one's
// (apicurio.rules.global.compatibility), so that compatibility checks behave as against Confluent.
//
// Layout of a state dir (default $XDG_STATE_HOME/weir/registry or ~/.local/state/weir/registry):
//   registry.pid, registry.json (port, url, version, ...), logs/registry.out (stdout+stderr).
// The unpacked distribution is shared by every state dir: $XDG_CACHE_HOME/weir/apicurio-registry-VERSION
// (or ~/.cache/...).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { WeirError } from '../../gateway/errors.ts';
import { freePorts } from '../kafka/local-kafka.ts';

export const DEFAULT_REGISTRY_VERSION = '3.0.9';
/** 8081 is the Confluent Schema Registry's own default; 18081 keeps clear of a real one. */
export const DEFAULT_REGISTRY_PORT = 18081;
export const CCOMPAT_PATH = '/apis/ccompat/v7';
const MIN_JAVA_MAJOR = 17;
const MARKER = '.weir-complete.json';
// See the top of this file for why the old plugin version.
const COPY_GOAL = 'org.apache.maven.plugins:maven-dependency-plugin:2.8:copy';
const INSTALL_HINT = 'e.g. `sudo apt-get install openjdk-17-jre-headless maven` on Debian/Raspberry Pi OS';

export type LocalRegistryErrorCode =
  | 'WEIR_LOCAL_REGISTRY_JAVA_MISSING'
  | 'WEIR_LOCAL_REGISTRY_JAVA_TOO_OLD'
  | 'WEIR_LOCAL_REGISTRY_MAVEN_MISSING'
  | 'WEIR_LOCAL_REGISTRY_FETCH_FAILED'
  | 'WEIR_LOCAL_REGISTRY_PORT_IN_USE'
  | 'WEIR_LOCAL_REGISTRY_START_FAILED'
  | 'WEIR_LOCAL_REGISTRY_START_TIMEOUT'
  | 'WEIR_LOCAL_REGISTRY_NOT_ANSWERING'
  | 'WEIR_LOCAL_REGISTRY_STOP_FAILED';

export class LocalRegistryError extends WeirError {
  /** Last lines of the registry's or Maven's output, when there is something to show. */
  readonly logTail: string | undefined;

  constructor(
    code: LocalRegistryErrorCode,
    message: string,
    options: { logTail?: string; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.name = 'LocalRegistryError';
    this.logTail = options.logTail;
  }
}

export type Log = (line: string) => void;
const noLog: Log = () => {};

export interface RegistryDistribution {
  version: string;
  /** The unpacked distribution. */
  appDir: string;
  /** The jar `java -jar` runs, relative to appDir. */
  runJar: string;
  /** True when Maven ran; false when the cache was already complete. */
  fetched: boolean;
}

export interface LocalRegistryInfo {
  /** Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:18081/apis/ccompat/v7. */
  url: string;
  pid: number;
  dir: string;
  port: number;
  version: string;
  logFile: string;
  alreadyRunning: boolean;
  /** From spawning the JVM to the first answer of the API (undefined when already running). */
  startMs?: number;
}

export interface LocalRegistryStatus {
  running: boolean;
  /** Whether the API answered (only checked when running). */
  answering: boolean;
  dir: string;
  pid?: number;
  port?: number;
  url?: string;
  version?: string;
  /** Resident memory of the JVM, KiB (Linux only). */
  rssKib?: number;
  logFile: string;
}

interface StateFile {
  pid: number;
  port: number;
  url: string;
  version: string;
  startedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Paths

export function defaultRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(state, 'weir', 'registry');
}

export function defaultRegistryCacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cache, 'weir', `apicurio-registry-${version}`);
}

const pidFile = (dir: string) => join(dir, 'registry.pid');
const stateFile = (dir: string) => join(dir, 'registry.json');
const logFileOf = (dir: string) => join(dir, 'logs', 'registry.out');
const apiUrl = (port: number) => `http://127.0.0.1:${port}${CCOMPAT_PATH}`;

// ---------------------------------------------------------------------------------------------
// Small process helpers

interface RunResult {
  code: number | null;
  output: string;
  error?: NodeJS.ErrnoException;
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 0, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (error === null) resolvePromise({ code: 0, output });
        else {
          const code = typeof error.code === 'number' ? error.code : null;
          resolvePromise({ code, output, error: error as NodeJS.ErrnoException });
        }
      },
    );
  });
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function checkJava(): Promise<string> {
  const home = process.env['JAVA_HOME'];
  const bin = home ? join(home, 'bin', 'java') : 'java';
  const r = await run(bin, ['-version'], { timeoutMs: 30_000 });
  if (r.error?.code === 'ENOENT') {
    throw new LocalRegistryError(
      'WEIR_LOCAL_REGISTRY_JAVA_MISSING',
      `Java ${MIN_JAVA_MAJOR}+ is needed to run the registry, but \`${bin}\` was not found; install it (${INSTALL_HINT}) or set JAVA_HOME`,
    );
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
  const major = m === null ? Number.NaN : m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (r.code !== 0 || !Number.isFinite(major)) {
    throw new LocalRegistryError('WEIR_LOCAL_REGISTRY_JAVA_MISSING', `\`${bin} -version\` failed`, {
      logTail: tail(r.output),
    });
  }
  if (major < MIN_JAVA_MAJOR) {
    throw new LocalRegistryError(
      'WEIR_LOCAL_REGISTRY_JAVA_TOO_OLD',
      `the registry needs Java ${MIN_JAVA_MAJOR} or newer, but \`${bin}\` is Java ${major}`,
    );
  }
  return bin;
}

// ---------------------------------------------------------------------------------------------
// The distribution

async function completeDistribution(appDir: string, version: string): Promise<string | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(appDir, MARKER), 'utf8')) as {
      version?: string;
      runJar?: string;
    };
    if (marker.version !== version || typeof marker.runJar !== 'string') return undefined;
    return (await exists(join(appDir, marker.runJar))) ? marker.runJar : undefined;
  } catch {
    return undefined;
  }
}

/** The jar to run: `quarkus-run.jar` (Quarkus fast-jar, Apicurio 3.1+) or `*-runner.jar` (3.0.x). */
async function findRunJar(appDir: string): Promise<string | undefined> {
  if (await exists(join(appDir, 'quarkus-run.jar'))) return 'quarkus-run.jar';
  return (await readdir(appDir)).find((f) => f.endsWith('-runner.jar'));
}

/**
 * Makes sure Apicurio Registry `version` is unpacked in the shared cache, running Maven only when
 * it is not. Maven keeps the tarball in ~/.m2, so a rerun after the cache dir was removed is fast
 * and offline.
 */
export async function ensureRegistryDistribution(
  opts: { version?: string; cacheDir?: string; log?: Log } = {},
): Promise<RegistryDistribution> {
  const version = opts.version ?? DEFAULT_REGISTRY_VERSION;
  const log = opts.log ?? noLog;
  const root = resolve(opts.cacheDir ?? defaultRegistryCacheDir(version));
  const appDir = join(root, 'app');
  const cached = await completeDistribution(appDir, version);
  if (cached !== undefined) return { version, appDir, runJar: cached, fetched: false };

  await mkdir(root, { recursive: true });
  // Fill a private dir and rename it into place, so an interrupted or concurrent fetch never
  // leaves a half-unpacked dir that looks complete.
  const tmp = join(root, `tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const artifact = `io.apicurio:apicurio-registry-app:${version}:tar.gz:all`;
  try {
    log(`downloading Apicurio Registry ${version} with Maven (${artifact}) ...`);
    const r = await run(
      'mvn',
      ['-q', '-B', '-Dstyle.color=never', COPY_GOAL, `-Dartifact=${artifact}`, `-DoutputDirectory=${tmp}`],
      { cwd: root },
    );
    if (r.error?.code === 'ENOENT') {
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_MAVEN_MISSING',
        `Maven (\`mvn\`) is needed to download the registry from Maven Central but was not found on PATH; install it (${INSTALL_HINT})`,
      );
    }
    const tarball = join(tmp, `apicurio-registry-app-${version}-all.tar.gz`);
    if (r.code !== 0 || !(await exists(tarball))) {
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_FETCH_FAILED',
        `Maven could not download ${artifact}; see the output below`,
        { logTail: tail(r.output) },
      );
    }
    const unpacked = join(tmp, 'app');
    await mkdir(unpacked);
    const x = await run('tar', ['-xzf', tarball, '-C', unpacked], { timeoutMs: 300_000 });
    const runJar = x.code === 0 ? await findRunJar(unpacked) : undefined;
    if (runJar === undefined) {
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_FETCH_FAILED',
        `unpacking ${tarball} ${x.code === 0 ? 'gave no quarkus-run.jar or *-runner.jar' : 'failed'}`,
        { logTail: tail(x.output) },
      );
    }
    await writeFile(join(unpacked, MARKER), `${JSON.stringify({ version, artifact, runJar }, null, 2)}\n`);
    const raced = await completeDistribution(appDir, version);
    if (raced !== undefined) return { version, appDir, runJar: raced, fetched: true };
    await rm(appDir, { recursive: true, force: true });
    await rename(unpacked, appDir);
    return { version, appDir, runJar, fetched: true };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Process state

async function readPid(dir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile(dir), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function readState(dir: string): Promise<StateFile | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
}

/** True when `pid` is a live (not zombie) registry started for `dir`. */
async function isOurRegistry(pid: number, dir: string): Promise<boolean> {
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
  return cmdline.split('\0').includes(`-Dweir.registry.dir=${dir}`);
}

async function rssKibOf(pid: number): Promise<number | undefined> {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** One GET of the subject list: true when the API answers 200. */
function apiAnswers(url: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = request(`${url}/subjects`, { timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolvePromise(res.statusCode === 200));
      res.once('error', () => resolvePromise(false));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolvePromise(false));
    req.end();
  });
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new LocalRegistryError(
          'WEIR_LOCAL_REGISTRY_PORT_IN_USE',
          `cannot use 127.0.0.1:${port} for the registry: ${e.code ?? e.message} (pick another --port, or 0 for a free one)`,
        ),
      ),
    );
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolvePromise()));
  });
}

async function logTailOf(dir: string, lines = 40): Promise<string> {
  try {
    return tail(await readFile(logFileOf(dir), 'utf8'), lines);
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Public API

export async function registryStatus(opts: { dir?: string } = {}): Promise<LocalRegistryStatus> {
  const dir = resolve(opts.dir ?? defaultRegistryDir());
  const logFile = logFileOf(dir);
  const pid = await readPid(dir);
  if (pid === undefined || !(await isOurRegistry(pid, dir)))
    return { running: false, answering: false, dir, logFile };
  const state = await readState(dir);
  const answering = state !== undefined && (await apiAnswers(state.url));
  return {
    running: true,
    answering,
    dir,
    pid,
    port: state?.port,
    url: state?.url,
    version: state?.version,
    rssKib: await rssKibOf(pid),
    logFile,
  };
}

export interface StartRegistryOptions {
  dir?: string;
  /** Port on 127.0.0.1 (default 18081); 0 picks a free one. */
  port?: number;
  /** Maximum JVM heap, MiB (default 256). */
  heapMb?: number;
  version?: string;
  /** Where the shared unpacked distribution lives (default ~/.cache/weir/apicurio-registry-VERSION). */
  cacheDir?: string;
  /** How long to wait for the API to answer once the JVM is spawned (default 120 s). */
  timeoutMs?: number;
  /**
   * Start the JVM in its own session so it outlives this process (default true, what the CLI
   * wants). Tests pass false so that Ctrl-C on the test run reaches the registry too.
   */
  detached?: boolean;
  log?: Log;
}

async function waitAnswering(url: string, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (await apiAnswers(url)) return true;
    await sleep(250);
  }
  return false;
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<LocalRegistryInfo> {
  const dir = resolve(opts.dir ?? defaultRegistryDir());
  const log = opts.log ?? noLog;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const logFile = logFileOf(dir);

  const current = await registryStatus({ dir });
  if (current.running && current.pid !== undefined) {
    const state = await readState(dir);
    if (state === undefined) {
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_NOT_ANSWERING',
        `a registry (pid ${current.pid}) runs for ${dir} but ${stateFile(dir)} is missing; run \`weir registry stop --dir ${dir}\``,
      );
    }
    // It may still be starting (another `weir registry start`): give it the same time budget.
    if (!(await waitAnswering(state.url, Date.now() + timeoutMs))) {
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_NOT_ANSWERING',
        `the registry (pid ${current.pid}) runs for ${dir} but does not answer at ${state.url}; see ${logFile} or run \`weir registry stop --dir ${dir}\``,
        { logTail: await logTailOf(dir) },
      );
    }
    if (opts.port !== undefined && opts.port !== 0 && opts.port !== state.port) {
      log(`note: already running on port ${state.port}, not ${opts.port}; stop it first to change ports`);
    }
    return { ...state, dir, logFile, alreadyRunning: true };
  }
  await rm(pidFile(dir), { force: true });

  const version = opts.version ?? DEFAULT_REGISTRY_VERSION;
  const heapMb = opts.heapMb ?? 256;
  const java = await checkJava();
  const dist = await ensureRegistryDistribution({ version, cacheDir: opts.cacheDir, log });
  const requested = opts.port ?? DEFAULT_REGISTRY_PORT;
  const port = requested === 0 ? (await freePorts(1))[0]! : requested;
  await assertPortFree(port);
  const url = apiUrl(port);
  await mkdir(join(dir, 'logs'), { recursive: true });
  await mkdir(join(dir, 'work'), { recursive: true });

  log(`starting Apicurio Registry ${version} at ${url}`);
  const out = openSync(logFile, 'w');
  const child = spawn(
    java,
    [
      `-Xmx${heapMb}m`,
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      // marks the process as ours, for pid-file checks (see isOurRegistry)
      `-Dweir.registry.dir=${dir}`,
      '-Dquarkus.http.host=127.0.0.1',
      `-Dquarkus.http.port=${port}`,
      '-Dquarkus.http.access-log.enabled=false',
      // in-memory storage (these are the defaults; stated so a changed default cannot surprise)
      '-Dapicurio.storage.kind=sql',
      '-Dapicurio.storage.sql.kind=h2',
      '-Dapicurio.datasource.url=jdbc:h2:mem:weir',
      // the default pool of 20 connections only costs memory and start time here
      '-Dapicurio.datasource.jdbc.initial-size=2',
      '-Dapicurio.datasource.jdbc.min-size=2',
      '-Dapicurio.datasource.jdbc.max-size=10',
      `-Dapicurio.import.work-dir=${join(dir, 'work')}`,
      `-Dapicurio.storage.snapshot.location=${join(dir, 'work')}`,
      // Confluent's default; Apicurio's is NONE
      '-Dapicurio.rules.global.compatibility=BACKWARD',
      '-jar',
      join(dist.appDir, dist.runJar),
    ],
    { cwd: dir, detached: opts.detached ?? true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
  });
  child.once('error', (e) => {
    exited = e.message;
  });
  // The time budget starts here: downloading does not count against it.
  const spawnedAt = Date.now();
  const deadline = spawnedAt + timeoutMs;
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(10); // let 'error' fire
    throw new LocalRegistryError(
      'WEIR_LOCAL_REGISTRY_START_FAILED',
      `could not start ${java}: ${exited ?? 'no pid'}`,
    );
  }
  await writeFile(pidFile(dir), `${pid}\n`);
  const state: StateFile = { pid, port, url, version, startedAt: new Date().toISOString() };
  await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);

  for (;;) {
    if (exited !== undefined) {
      await rm(pidFile(dir), { force: true });
      const logTail = await logTailOf(dir);
      const why = /UnsupportedClassVersionError/.test(logTail)
        ? ` — Apicurio Registry ${version} needs a newer Java than this one (3.0.x runs on Java 17)`
        : '';
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_START_FAILED',
        `the registry exited during startup (${exited})${why}; log: ${logFile}`,
        { logTail },
      );
    }
    if (await apiAnswers(url)) break;
    if (Date.now() >= deadline) {
      const logTail = await logTailOf(dir);
      await stopRegistry({ dir, timeoutMs: 10_000 }).catch(() => {});
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_START_TIMEOUT',
        `the registry did not answer at ${url} within ${timeoutMs / 1000} s; log: ${logFile}`,
        { logTail },
      );
    }
    await sleep(200);
  }
  child.unref();
  return { url, pid, dir, port, version, logFile, alreadyRunning: false, startMs: Date.now() - spawnedAt };
}

export async function stopRegistry(
  opts: { dir?: string; timeoutMs?: number; log?: Log } = {},
): Promise<{ wasRunning: boolean; pid?: number; killed: boolean }> {
  const dir = resolve(opts.dir ?? defaultRegistryDir());
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const log = opts.log ?? noLog;
  const pid = await readPid(dir);
  if (pid === undefined || !(await isOurRegistry(pid, dir))) {
    await rm(pidFile(dir), { force: true });
    return { wasRunning: false, killed: false };
  }
  const waitGone = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!(await isOurRegistry(pid, dir))) return true;
      await sleep(100);
    }
    return !(await isOurRegistry(pid, dir));
  };
  let killed = false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone already
  }
  if (!(await waitGone(timeoutMs))) {
    log(`the registry (pid ${pid}) did not stop within ${Math.round(timeoutMs / 1000)} s; killing it`);
    killed = true;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    if (!(await waitGone(5_000))) {
      throw new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_STOP_FAILED',
        `the registry (pid ${pid}) survived SIGKILL`,
      );
    }
  }
  await rm(pidFile(dir), { force: true });
  return { wasRunning: true, pid, killed };
}
