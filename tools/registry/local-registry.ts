// A local Confluent-compatible Schema Registry for development and tests: Apicurio Registry, run
// from its distribution on Maven Central (distribution.ts) on 127.0.0.1, with in-memory storage
// (H2 in memory: every start begins empty). No Docker. This file starts, stops and checks it;
// tools/local-service/process.ts runs the JVM.
//
// The Confluent Schema Registry API is served under /apis/ccompat/v7 (LocalRegistryInfo.url).
// Apicurio's default compatibility rule is NONE; Confluent's is BACKWARD, and so is this one's
// (apicurio.rules.global.compatibility), so that compatibility checks behave as against Confluent.
//
// Layout of a state dir (default $XDG_STATE_HOME/weir/registry or ~/.local/state/weir/registry):
//   registry.pid, registry.json (port, url, version, ...), logs/registry.out (stdout+stderr),
//   work/ (Apicurio's import and snapshot dir).
import { mkdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { checkJava } from '../local-service/java.ts';
import { assertPortFree, freePorts } from '../local-service/ports.ts';
import { type Probe, type StartServiceOptions, stateDir } from '../local-service/process.ts';
import { type Log, noLog } from '../local-service/service.ts';
import { DEFAULT_REGISTRY_VERSION, ensureRegistryDistribution } from './distribution.ts';
import { LocalRegistryError, REGISTRY } from './service.ts';

export { LocalRegistryError, type LocalRegistryErrorCode } from './service.ts';

/** 8081 is the Confluent Schema Registry's own default; 18081 keeps clear of a real one. */
export const DEFAULT_REGISTRY_PORT = 18081;
export const CCOMPAT_PATH = '/apis/ccompat/v7';

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

export function defaultRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  return stateDir('registry', env);
}

const apiUrl = (port: number) => `http://127.0.0.1:${port}${CCOMPAT_PATH}`;

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

export async function registryStatus(opts: { dir?: string } = {}): Promise<LocalRegistryStatus> {
  const dir = resolve(opts.dir ?? defaultRegistryDir());
  const { state, ...status } = await REGISTRY.status<StateFile>(dir, (s) => apiAnswers(s.url));
  if (status.pid === undefined) return status;
  return {
    ...status,
    port: state?.port,
    url: state?.url,
    version: state?.version,
    rssKib: await rssKibOf(status.pid),
  };
}

/**
 * Defaults: the state dir defaultRegistryDir(), heap 256 MiB, the distribution cached in
 * ~/.cache/weir/apicurio-registry-VERSION, 120 s to answer.
 */
export interface StartRegistryOptions extends StartServiceOptions {
  /** Port on 127.0.0.1 (default 18081); 0 picks a free one. */
  port?: number;
}

/** The registry's JVM command line: small heap, quick start, in-memory storage. */
function registryJvmArgs(o: { heapMb: number; dir: string; port: number; jar: string }): string[] {
  return [
    `-Xmx${o.heapMb}m`,
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    // marks the process as ours, for pid-file checks
    REGISTRY.dirMark(o.dir),
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${o.port}`,
    '-Dquarkus.http.access-log.enabled=false',
    // in-memory storage (these are the defaults; stated so a changed default cannot surprise)
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=h2',
    '-Dapicurio.datasource.url=jdbc:h2:mem:weir',
    // the default pool of 20 connections only costs memory and start time here
    '-Dapicurio.datasource.jdbc.initial-size=2',
    '-Dapicurio.datasource.jdbc.min-size=2',
    '-Dapicurio.datasource.jdbc.max-size=10',
    `-Dapicurio.import.work-dir=${join(o.dir, 'work')}`,
    `-Dapicurio.storage.snapshot.location=${join(o.dir, 'work')}`,
    // Confluent's default; Apicurio's is NONE
    '-Dapicurio.rules.global.compatibility=BACKWARD',
    '-jar',
    o.jar,
  ];
}

/** How a running registry is reached, and asked whether it answers. */
const apiProbe: Probe<StateFile> = {
  address: (state) => state.url,
  answers: (state) => apiAnswers(state.url),
};

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<LocalRegistryInfo> {
  const dir = resolve(opts.dir ?? defaultRegistryDir());
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const running = await REGISTRY.runningInstance(dir, apiProbe, { ...opts, timeoutMs });
  const { logFile } = REGISTRY.files(dir);
  if (running !== undefined) return { ...running.state, dir, logFile, alreadyRunning: true };

  const log = opts.log ?? noLog;
  const version = opts.version ?? DEFAULT_REGISTRY_VERSION;
  const heapMb = opts.heapMb ?? 256;
  const java = await checkJava(REGISTRY);
  const dist = await ensureRegistryDistribution({ version, cacheDir: opts.cacheDir, log });
  const requested = opts.port ?? DEFAULT_REGISTRY_PORT;
  const port = requested === 0 ? (await freePorts(1))[0]! : requested;
  await assertPortFree(
    port,
    (reason) =>
      new LocalRegistryError(
        'WEIR_LOCAL_REGISTRY_PORT_IN_USE',
        `cannot use 127.0.0.1:${port} for the registry: ${reason} (pick another --port, or 0 for a free one)`,
      ),
  );
  const url = apiUrl(port);
  await mkdir(join(dir, 'work'), { recursive: true });

  log(`starting Apicurio Registry ${version} at ${url}`);
  const spawned = await REGISTRY.spawn(
    dir,
    java.bin,
    registryJvmArgs({ heapMb, dir, port, jar: join(dist.appDir, dist.runJar) }),
    opts.detached ?? true,
  );
  // The time budget starts here: downloading does not count against it.
  const spawnedAt = Date.now();
  const { pid } = spawned;
  const state: StateFile = { pid, port, url, version, startedAt: new Date().toISOString() };
  await REGISTRY.writeState(dir, state);

  const outcome = await REGISTRY.waitReady(dir, {
    exited: spawned.exited,
    ready: () => apiAnswers(url),
    deadline: spawnedAt + timeoutMs,
  });
  if (outcome === 'timeout') {
    const tail = await REGISTRY.logTail(dir);
    await stopRegistry({ dir, timeoutMs: 10_000 }).catch(() => {});
    throw new LocalRegistryError(
      'WEIR_LOCAL_REGISTRY_START_TIMEOUT',
      `the registry did not answer at ${url} within ${timeoutMs / 1000} s; log: ${logFile}`,
      { logTail: tail },
    );
  }
  if (outcome !== 'ready') {
    const tail = await REGISTRY.logTail(dir);
    const why = /UnsupportedClassVersionError/.test(tail)
      ? ` — Apicurio Registry ${version} needs a newer Java than this one (3.0.x runs on Java 17)`
      : '';
    throw new LocalRegistryError(
      'WEIR_LOCAL_REGISTRY_START_FAILED',
      `the registry exited during startup (${outcome.exited})${why}; log: ${logFile}`,
      { logTail: tail },
    );
  }
  spawned.child.unref();
  return { url, pid, dir, port, version, logFile, alreadyRunning: false, startMs: Date.now() - spawnedAt };
}

export async function stopRegistry(
  opts: { dir?: string; timeoutMs?: number; log?: Log } = {},
): Promise<{ wasRunning: boolean; pid?: number; killed: boolean }> {
  return REGISTRY.stop(resolve(opts.dir ?? defaultRegistryDir()), opts);
}
