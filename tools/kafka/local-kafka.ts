// A local Apache Kafka for development and tests — one combined broker+controller node (KRaft) on
// 127.0.0.1, or a cluster of three such nodes (a 3-voter quorum; topics replicated 3 times with
// min.insync.replicas 2, like production) — run from the official jars on Maven Central: no Docker,
// no tarball download. This file runs the processes; maven.ts assembles the jars,
// broker-properties.ts writes each node's config.
//
// Version: Kafka 4.3.1 (Java 17+, log4j2 backend). Checked against the kafkajs 2.2.4 the gateway
// uses: idempotent producer with acks -1 and gzip, producing to an auto-created topic, consumer
// groups (fromBeginning, offset commits), admin createTopics/listTopics/fetchTopicMetadata/
// describeGroups/fetchTopicOffsets/deleteTopics all work despite 4.0 dropping old protocol versions
// (KIP-896). 4.4.0 is listed in Maven Central's metadata, but its dependency
// org.apache.kafka:kafka-tools-api:4.4.0 has no jar there, so its tree does not resolve.
// 3.9.x still works (reload4j backend): pass `version: '3.9.2'` / `--kafka-version 3.9.2`.
//
// Layout of a state dir (default $XDG_STATE_HOME/weir/kafka or ~/.local/state/weir/kafka):
//   server.properties, log4j2.properties (or log4j.properties for 3.x), data/ (KRaft log dirs),
//   logs/kafka.out (stdout+stderr of the broker), kafka.pid, kafka.json (port, version, ...).
// A cluster's state dir holds cluster.json (nodes, ports, version) and node-1/, node-2/, node-3/,
// each laid out like a single node's state dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClusterNode, logConfig, serverProperties } from './broker-properties.ts';
import {
  addScramArgs,
  ensureSecurityMaterial,
  type LocalKafkaSecurityInfo,
  type LocalKafkaSecurityPorts,
  securityDir,
  securityInfo,
  securityProperties,
  userPassword,
} from './local-kafka-security.ts';

import {
  checkJava,
  DEFAULT_KAFKA_PORT,
  DEFAULT_KAFKA_VERSION,
  ensureKafkaJars,
  exists,
  LocalKafkaError,
  type Log,
  noLog,
  run,
  tail,
} from './maven.ts';

export type { ClusterNode } from './broker-properties.ts';
export { serverProperties } from './broker-properties.ts';
export type { LocalKafkaSecurityInfo, LocalKafkaSecurityPorts } from './local-kafka-security.ts';
export {
  checkJava,
  DEFAULT_KAFKA_PORT,
  DEFAULT_KAFKA_VERSION,
  defaultJarCacheDir,
  ensureKafkaJars,
  type KafkaJars,
  kafkaPomXml,
  LocalKafkaError,
  type LocalKafkaErrorCode,
  type Log,
  MIN_JAVA_MAJOR,
} from './maven.ts';

const READY_LINE = 'Kafka Server started';
export interface LocalKafkaInfo {
  brokers: string;
  pid: number;
  dir: string;
  port: number;
  controllerPort: number;
  version: string;
  logFile: string;
  alreadyRunning: boolean;
  /** The security listeners, when started with them. */
  security?: LocalKafkaSecurityInfo;
}

export interface LocalKafkaStatus {
  running: boolean;
  /** Whether the broker port accepted a TCP connection (only checked when running). */
  answering: boolean;
  dir: string;
  pid?: number;
  port?: number;
  brokers?: string;
  version?: string;
  logFile: string;
}

interface StateFile {
  pid: number;
  port: number;
  controllerPort: number;
  brokers: string;
  version: string;
  libsDir: string;
  startedAt: string;
  security?: LocalKafkaSecurityPorts;
}

// ---------------------------------------------------------------------------------------------
// Paths

export function defaultKafkaDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(state, 'weir', 'kafka');
}

/** The default state dir of a cluster (`weir kafka start --brokers 3`). */
export function defaultKafkaClusterDir(env: NodeJS.ProcessEnv = process.env): string {
  return `${defaultKafkaDir(env)}-cluster`;
}

const pidFile = (dir: string) => join(dir, 'kafka.pid');
const stateFile = (dir: string) => join(dir, 'kafka.json');
const logFileOf = (dir: string) => join(dir, 'logs', 'kafka.out');

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

/** True when `pid` is a live (not zombie) Kafka broker started for `dir`. */
async function isOurKafka(pid: number, dir: string): Promise<boolean> {
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
  return args.includes('kafka.Kafka') && args.includes(`-Dweir.kafka.dir=${dir}`);
}

function tcpAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new LocalKafkaError(
          'WEIR_KAFKA_PORT_IN_USE',
          `cannot use 127.0.0.1:${port} for Kafka's ${what} listener: ${e.code ?? e.message} (another Kafka? pick another --port)`,
        ),
      ),
    );
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolvePromise()));
  });
}

export { ignoreKafkajsNegativeTimeoutWarnings } from '../../gateway/sinks/kafka/kafkajs-warnings.ts';

/** One metadata round trip with kafkajs (what the gateway uses), no retries. */
async function metadataAnswers(brokers: string): Promise<boolean> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    clientId: 'weir-kafka-probe',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
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

export async function kafkaStatus(opts: { dir?: string } = {}): Promise<LocalKafkaStatus> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const logFile = logFileOf(dir);
  const pid = await readPid(dir);
  if (pid === undefined || !(await isOurKafka(pid, dir)))
    return { running: false, answering: false, dir, logFile };
  const state = await readState(dir);
  const answering = state !== undefined && (await tcpAnswers(state.port));
  return {
    running: true,
    answering,
    dir,
    pid,
    port: state?.port,
    brokers: state?.brokers,
    version: state?.version,
    logFile,
  };
}

export interface StartKafkaOptions {
  dir?: string;
  port?: number;
  controllerPort?: number;
  heapMb?: number;
  version?: string;
  /** Where the shared jar cache lives (default ~/.cache/weir/kafka-VERSION). */
  cacheDir?: string;
  /** How long to wait for the broker to answer once the JVM is spawned (default 90 s). */
  timeoutMs?: number;
  /**
   * Start the JVM in its own session so it outlives this process (default true, what the CLI
   * wants). Tests pass false so that Ctrl-C on the test run reaches the broker too.
   */
  detached?: boolean;
  /**
   * Also open SASL_PLAINTEXT, SASL_SSL and SSL (client certificate) listeners on these ports
   * (tools/kafka/local-kafka-security.ts). Needs a state dir formatted with them.
   */
  security?: LocalKafkaSecurityPorts;
  log?: Log;
}

async function waitAnswering(brokers: string, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (await metadataAnswers(brokers)) return true;
    await sleep(250);
  }
  return false;
}

/** The broker's JVM command line (the flags of Kafka's own start scripts). */
function brokerJvmArgs(o: {
  heapMb: number;
  dir: string;
  logFlag: string;
  classpath: string;
  propsPath: string;
}): string[] {
  return [
    `-Xms${o.heapMb}m`,
    `-Xmx${o.heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true',
    // marks the process as ours, for pid-file checks (see isOurKafka)
    `-Dweir.kafka.dir=${o.dir}`,
    o.logFlag,
    '-cp',
    o.classpath,
    'kafka.Kafka',
    o.propsPath,
  ];
}

export async function startKafka(opts: StartKafkaOptions = {}): Promise<LocalKafkaInfo> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const log = opts.log ?? noLog;
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const logFile = logFileOf(dir);

  const current = await kafkaStatus({ dir });
  if (current.running && current.pid !== undefined) {
    const state = await readState(dir);
    if (state === undefined) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_NOT_ANSWERING',
        `a Kafka (pid ${current.pid}) runs for ${dir} but ${stateFile(dir)} is missing; run \`weir kafka stop --dir ${dir}\``,
      );
    }
    // It may still be starting (another `weir kafka start`): give it the same time budget.
    if (!(await waitAnswering(state.brokers, Date.now() + timeoutMs))) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_NOT_ANSWERING',
        `Kafka (pid ${current.pid}) runs for ${dir} but does not answer at ${state.brokers}; see ${logFile} or run \`weir kafka stop --dir ${dir}\``,
        { logTail: await logTailOf(dir) },
      );
    }
    if (opts.port !== undefined && opts.port !== state.port) {
      log(`note: already running on port ${state.port}, not ${opts.port}; stop it first to change ports`);
    }
    if (opts.security !== undefined && state.security === undefined) {
      log('note: already running without the security listeners; stop it first to add them');
    }
    return {
      brokers: state.brokers,
      pid: current.pid,
      dir,
      port: state.port,
      controllerPort: state.controllerPort,
      version: state.version,
      logFile,
      alreadyRunning: true,
      ...(state.security !== undefined && { security: securityInfo(dir, state.security) }),
    };
  }
  await rm(pidFile(dir), { force: true });

  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const port = opts.port ?? DEFAULT_KAFKA_PORT;
  const controllerPort = opts.controllerPort ?? port + 1;
  const heapMb = opts.heapMb ?? 512;
  const brokers = `127.0.0.1:${port}`;

  const java = await checkJava();
  const jars = await ensureKafkaJars({ version, cacheDir: opts.cacheDir, log });
  await assertPortFree(port, 'broker');
  await assertPortFree(controllerPort, 'controller');
  const securityPorts = opts.security;
  if (securityPorts !== undefined) {
    await assertPortFree(securityPorts.saslPort, 'SASL_PLAINTEXT');
    await assertPortFree(securityPorts.saslSslPort, 'SASL_SSL');
    await assertPortFree(securityPorts.sslPort, 'SSL');
  }

  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  const propsPath = join(dir, 'server.properties');
  let security: ReturnType<typeof securityProperties> | undefined;
  if (securityPorts !== undefined) {
    try {
      const { storePassword } = await ensureSecurityMaterial(dir);
      security = securityProperties({
        dir,
        ports: securityPorts,
        storePassword,
        userPassword: await userPassword(dir),
      });
    } catch (cause) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_SECURITY_FAILED',
        `making the security listeners' certificates in ${securityDir(dir)} failed: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  const scramMarker = join(securityDir(dir), 'scram-users-added');
  if (
    security !== undefined &&
    (await exists(join(dataDir, 'meta.properties'))) &&
    !(await exists(scramMarker))
  ) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_FORMAT_FAILED',
      `${dataDir} was formatted without the security listeners' SCRAM users; use a fresh --dir (or remove ${dataDir}) to start with --security`,
    );
  }
  await writeFile(propsPath, serverProperties({ dataDir, port, controllerPort, version, security }));
  const logCfg = logConfig(version);
  const logCfgPath = join(dir, logCfg.file);
  await writeFile(logCfgPath, logCfg.text);
  const classpath = join(jars.libsDir, '*');

  if (!(await exists(join(dataDir, 'meta.properties')))) {
    log(`formatting KRaft storage in ${dataDir}`);
    const clusterId = randomBytes(16).toString('base64url');
    const r = await run(
      java.bin,
      [
        logCfg.jvmFlag(logCfgPath),
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        `--cluster-id=${clusterId}`,
        '-c',
        propsPath,
        ...(security !== undefined ? addScramArgs(await userPassword(dir)) : []),
      ],
      { cwd: dir, timeoutMs: 120_000 },
    );
    if (r.code !== 0) {
      throw new LocalKafkaError('WEIR_KAFKA_FORMAT_FAILED', `formatting Kafka storage in ${dataDir} failed`, {
        logTail: tail(r.output),
      });
    }
    if (security !== undefined) await writeFile(scramMarker, `${new Date().toISOString()}\n`);
  }

  log(`starting Kafka ${version} on ${brokers}`);
  const out = openSync(logFile, 'w');
  const child = spawn(
    java.bin,
    brokerJvmArgs({ heapMb, dir, logFlag: logCfg.jvmFlag(logCfgPath), classpath, propsPath }),
    {
      cwd: dir,
      detached: opts.detached ?? true,
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
  });
  child.once('error', (e) => {
    exited = e.message;
  });
  // The time budget starts here: downloading jars and formatting do not count against it.
  const deadline = Date.now() + timeoutMs;
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(10); // let 'error' fire
    throw new LocalKafkaError(
      'WEIR_KAFKA_START_FAILED',
      `could not start ${java.bin}: ${exited ?? 'no pid'}`,
    );
  }
  await writeFile(pidFile(dir), `${pid}\n`);
  const state: StateFile = {
    pid,
    port,
    controllerPort,
    brokers,
    version,
    libsDir: jars.libsDir,
    startedAt: new Date().toISOString(),
    ...(securityPorts !== undefined && { security: securityPorts }),
  };
  await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);

  let sawReadyLine = false;
  for (;;) {
    if (exited !== undefined) {
      await rm(pidFile(dir), { force: true });
      throw new LocalKafkaError(
        'WEIR_KAFKA_START_FAILED',
        `Kafka exited during startup (${exited}); log: ${logFile}`,
        { logTail: await logTailOf(dir) },
      );
    }
    if (!sawReadyLine) {
      sawReadyLine = (await readFile(logFile, 'utf8').catch(() => '')).includes(READY_LINE);
    }
    if (sawReadyLine && (await metadataAnswers(brokers))) break;
    if (Date.now() >= deadline) {
      const logTail = await logTailOf(dir);
      await stopKafka({ dir, timeoutMs: 10_000 }).catch(() => {});
      throw new LocalKafkaError(
        'WEIR_KAFKA_START_TIMEOUT',
        `Kafka did not become ready within ${timeoutMs / 1000} s (${sawReadyLine ? 'no metadata answer' : `no '${READY_LINE}' line`}); log: ${logFile}`,
        { logTail },
      );
    }
    await sleep(200);
  }
  child.unref();
  return {
    brokers,
    pid,
    dir,
    port,
    controllerPort,
    version,
    logFile,
    alreadyRunning: false,
    ...(securityPorts !== undefined && { security: securityInfo(dir, securityPorts) }),
  };
}

export async function stopKafka(
  opts: { dir?: string; timeoutMs?: number; log?: Log } = {},
): Promise<{ wasRunning: boolean; pid?: number; killed: boolean }> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const log = opts.log ?? noLog;
  const pid = await readPid(dir);
  if (pid === undefined || !(await isOurKafka(pid, dir))) {
    await rm(pidFile(dir), { force: true });
    return { wasRunning: false, killed: false };
  }
  const waitGone = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!(await isOurKafka(pid, dir))) return true;
      await sleep(100);
    }
    return !(await isOurKafka(pid, dir));
  };
  let killed = false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone already
  }
  if (!(await waitGone(timeoutMs))) {
    log(`Kafka (pid ${pid}) did not stop within ${Math.round(timeoutMs / 1000)} s; killing it`);
    killed = true;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    if (!(await waitGone(5_000))) {
      throw new LocalKafkaError('WEIR_KAFKA_STOP_FAILED', `Kafka (pid ${pid}) survived SIGKILL`);
    }
  }
  await rm(pidFile(dir), { force: true });
  return { wasRunning: true, pid, killed };
}

/** `count` distinct ports that were free on 127.0.0.1 a moment ago (for a broker and its controller). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---------------------------------------------------------------------------------------------
// A cluster: N combined broker+controller nodes (N voters), each its own JVM and state dir.
//
// Node i (1-based) listens on P + 2(i-1) (broker) and P + 2(i-1) + 1 (controller), so the default
// 3-node cluster takes 19092–19097. All nodes are formatted with one cluster id and started
// together (a quorum needs a majority of voters to elect a leader); each is ready when it logs
// `Kafka Server started` and answers a metadata request on its own port.

export const DEFAULT_CLUSTER_HEAP_MB = 384;

interface ClusterStateFile {
  version: string;
  libsDir: string;
  heapMb: number;
  brokers: string;
  nodes: ClusterNode[];
  startedAt: string;
}

export interface ClusterNodeStatus extends ClusterNode {
  dir: string;
  running: boolean;
  answering: boolean;
  pid?: number;
  logFile: string;
}

export interface LocalKafkaClusterInfo {
  brokers: string;
  dir: string;
  version: string;
  nodes: Array<ClusterNode & { dir: string; pid: number; logFile: string }>;
  alreadyRunning: boolean;
  /** Time from the first JVM spawned until every node answered, ms (0 when already running). */
  startMs: number;
}

export interface StartKafkaClusterOptions {
  dir?: string;
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Base port: node i uses port + 2(i-1) and port + 2(i-1) + 1 (default 19092). */
  port?: number;
  /** Explicit ports per node (tests take free ports); overrides `port`. */
  nodePorts?: ReadonlyArray<{ port: number; controllerPort: number }>;
  heapMb?: number;
  version?: string;
  cacheDir?: string;
  timeoutMs?: number;
  detached?: boolean;
  log?: Log;
}

const clusterFile = (dir: string) => join(dir, 'cluster.json');
export const clusterNodeDir = (dir: string, nodeId: number) => join(dir, `node-${nodeId}`);

async function readClusterState(dir: string): Promise<ClusterStateFile | undefined> {
  try {
    return JSON.parse(await readFile(clusterFile(dir), 'utf8')) as ClusterStateFile;
  } catch {
    return undefined;
  }
}

/** Whether `dir` is the state dir of a cluster (has cluster.json). */
export async function isClusterDir(dir: string): Promise<boolean> {
  return exists(clusterFile(resolve(dir)));
}

export async function kafkaClusterStatus(opts: { dir?: string } = {}): Promise<{
  dir: string;
  version?: string;
  brokers?: string;
  nodes: ClusterNodeStatus[];
}> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const state = await readClusterState(dir);
  if (state === undefined) return { dir, nodes: [] };
  const nodes = await Promise.all(
    state.nodes.map(async (n): Promise<ClusterNodeStatus> => {
      const nodeDir = clusterNodeDir(dir, n.nodeId);
      const pid = await readPid(nodeDir);
      const running = pid !== undefined && (await isOurKafka(pid, nodeDir));
      return {
        ...n,
        dir: nodeDir,
        running,
        answering: running && (await tcpAnswers(n.port)),
        ...(running && { pid }),
        logFile: logFileOf(nodeDir),
      };
    }),
  );
  return { dir, version: state.version, brokers: state.brokers, nodes };
}

/** Spawns the JVM of one cluster node (already formatted) and records its pid. */
async function spawnClusterNode(
  dir: string,
  state: ClusterStateFile,
  node: ClusterNode,
  detached: boolean,
): Promise<{ child: ChildProcess; exited: () => string | undefined }> {
  const java = await checkJava();
  const nodeDir = clusterNodeDir(dir, node.nodeId);
  const logCfg = logConfig(state.version);
  const propsPath = join(nodeDir, 'server.properties');
  await writeFile(
    propsPath,
    serverProperties({
      dataDir: join(nodeDir, 'data'),
      port: node.port,
      controllerPort: node.controllerPort,
      version: state.version,
      nodeId: node.nodeId,
      voters: state.nodes,
    }),
  );
  const logCfgPath = join(nodeDir, logCfg.file);
  await writeFile(logCfgPath, logCfg.text);
  await mkdir(join(nodeDir, 'logs'), { recursive: true });
  const out = openSync(logFileOf(nodeDir), 'w');
  const child = spawn(
    java.bin,
    brokerJvmArgs({
      heapMb: state.heapMb,
      dir: nodeDir,
      logFlag: logCfg.jvmFlag(logCfgPath),
      classpath: join(state.libsDir, '*'),
      propsPath,
    }),
    { cwd: nodeDir, detached, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
  });
  child.once('error', (e) => {
    exited = e.message;
  });
  if (child.pid === undefined) {
    await sleep(10);
    throw new LocalKafkaError(
      'WEIR_KAFKA_START_FAILED',
      `could not start ${java.bin}: ${exited ?? 'no pid'}`,
    );
  }
  await writeFile(pidFile(nodeDir), `${child.pid}\n`);
  return { child, exited: () => exited };
}

/** Waits until a node has logged its readiness line and answers a metadata request. */
async function waitNodeReady(
  nodeDir: string,
  port: number,
  exited: () => string | undefined,
  deadline: number,
): Promise<void> {
  let sawReadyLine = false;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) {
      await rm(pidFile(nodeDir), { force: true });
      throw new LocalKafkaError(
        'WEIR_KAFKA_START_FAILED',
        `Kafka node in ${nodeDir} exited during startup (${gone}); log: ${logFileOf(nodeDir)}`,
        { logTail: await logTailOf(nodeDir) },
      );
    }
    if (!sawReadyLine) {
      sawReadyLine = (await readFile(logFileOf(nodeDir), 'utf8').catch(() => '')).includes(READY_LINE);
    }
    if (sawReadyLine && (await metadataAnswers(`127.0.0.1:${port}`))) return;
    if (Date.now() >= deadline) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_START_TIMEOUT',
        `Kafka node in ${nodeDir} did not become ready in time (${sawReadyLine ? 'no metadata answer' : `no '${READY_LINE}' line`}); log: ${logFileOf(nodeDir)}`,
        { logTail: await logTailOf(nodeDir) },
      );
    }
    await sleep(200);
  }
}

/**
 * Starts a cluster of `nodes` combined broker+controller nodes on 127.0.0.1 (default 3), or
 * returns the one already running for `dir`. Fails with WEIR_KAFKA_START_FAILED when `dir` holds a
 * single node, or a cluster of another size.
 */
export async function startKafkaCluster(opts: StartKafkaClusterOptions = {}): Promise<LocalKafkaClusterInfo> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const log = opts.log ?? noLog;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const count = opts.nodePorts?.length ?? opts.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1) {
    throw new LocalKafkaError('WEIR_KAFKA_START_FAILED', `a cluster needs at least one node, not ${count}`);
  }
  if ((await exists(join(dir, 'data', 'meta.properties'))) || (await readPid(dir)) !== undefined) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_START_FAILED',
      `${dir} holds a single-node Kafka; use another --dir for a cluster`,
    );
  }
  const existing = await readClusterState(dir);
  if (existing !== undefined && existing.nodes.length !== count) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_START_FAILED',
      `${dir} holds a ${existing.nodes.length}-node cluster, not ${count} nodes; use another --dir`,
    );
  }
  const status = await kafkaClusterStatus({ dir });
  const pending = status.nodes.filter((n) => !n.running);
  if (existing !== undefined && pending.length === 0) {
    const deadline = Date.now() + timeoutMs;
    for (const n of status.nodes) {
      if (!(await waitAnswering(`127.0.0.1:${n.port}`, deadline))) {
        throw new LocalKafkaError(
          'WEIR_KAFKA_NOT_ANSWERING',
          `Kafka node ${n.nodeId} (pid ${n.pid}) runs for ${dir} but does not answer at 127.0.0.1:${n.port}; see ${n.logFile} or run \`weir kafka stop --dir ${dir}\``,
          { logTail: await logTailOf(n.dir) },
        );
      }
    }
    return clusterInfo(dir, existing, status.nodes, true, 0);
  }

  const version = existing?.version ?? opts.version ?? DEFAULT_KAFKA_VERSION;
  const base = opts.port ?? DEFAULT_KAFKA_PORT;
  const nodes: ClusterNode[] =
    existing?.nodes ??
    Array.from({ length: count }, (_, i) => ({
      nodeId: i + 1,
      port: opts.nodePorts?.[i]?.port ?? base + 2 * i,
      controllerPort: opts.nodePorts?.[i]?.controllerPort ?? base + 2 * i + 1,
    }));
  const java = await checkJava();
  const jars = await ensureKafkaJars({ version, cacheDir: opts.cacheDir, log });
  for (const n of nodes) {
    if (pending.some((p) => p.nodeId === n.nodeId) || existing === undefined) {
      await assertPortFree(n.port, `node ${n.nodeId} broker`);
      await assertPortFree(n.controllerPort, `node ${n.nodeId} controller`);
    }
  }
  const state: ClusterStateFile = {
    version,
    libsDir: jars.libsDir,
    heapMb: opts.heapMb ?? existing?.heapMb ?? DEFAULT_CLUSTER_HEAP_MB,
    brokers: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes,
    startedAt: new Date().toISOString(),
  };
  await mkdir(dir, { recursive: true });
  await writeFile(clusterFile(dir), `${JSON.stringify(state, null, 2)}\n`);

  const toStart =
    existing === undefined ? nodes : nodes.filter((n) => pending.some((p) => p.nodeId === n.nodeId));
  const clusterId = randomBytes(16).toString('base64url');
  const logCfg = logConfig(version);
  await Promise.all(
    toStart.map(async (n) => {
      const nodeDir = clusterNodeDir(dir, n.nodeId);
      const dataDir = join(nodeDir, 'data');
      if (await exists(join(dataDir, 'meta.properties'))) return;
      await mkdir(dataDir, { recursive: true });
      const propsPath = join(nodeDir, 'server.properties');
      await writeFile(
        propsPath,
        serverProperties({
          dataDir,
          port: n.port,
          controllerPort: n.controllerPort,
          version,
          nodeId: n.nodeId,
          voters: nodes,
        }),
      );
      const logCfgPath = join(nodeDir, logCfg.file);
      await writeFile(logCfgPath, logCfg.text);
      log(`formatting KRaft storage of node ${n.nodeId} in ${dataDir}`);
      const r = await run(
        java.bin,
        [
          logCfg.jvmFlag(logCfgPath),
          '-cp',
          join(jars.libsDir, '*'),
          'kafka.tools.StorageTool',
          'format',
          `--cluster-id=${clusterId}`,
          '-c',
          propsPath,
        ],
        { cwd: nodeDir, timeoutMs: 120_000 },
      );
      if (r.code !== 0) {
        throw new LocalKafkaError(
          'WEIR_KAFKA_FORMAT_FAILED',
          `formatting Kafka storage in ${dataDir} failed`,
          {
            logTail: tail(r.output),
          },
        );
      }
    }),
  );

  log(`starting a ${nodes.length}-node Kafka ${version} cluster at ${state.brokers}`);
  const started = Date.now();
  const deadline = started + timeoutMs;
  const spawned = await Promise.all(
    toStart.map((n) => spawnClusterNode(dir, state, n, opts.detached ?? true)),
  );
  try {
    await Promise.all(
      toStart.map((n, i) =>
        waitNodeReady(clusterNodeDir(dir, n.nodeId), n.port, spawned[i]!.exited, deadline),
      ),
    );
  } catch (e) {
    await stopKafkaCluster({ dir, timeoutMs: 10_000 }).catch(() => {});
    throw e;
  }
  const startMs = Date.now() - started;
  for (const s of spawned) s.child.unref();
  return clusterInfo(dir, state, (await kafkaClusterStatus({ dir })).nodes, false, startMs);
}

function clusterInfo(
  dir: string,
  state: ClusterStateFile,
  nodes: ClusterNodeStatus[],
  alreadyRunning: boolean,
  startMs: number,
): LocalKafkaClusterInfo {
  return {
    brokers: state.brokers,
    dir,
    version: state.version,
    nodes: nodes.map((n) => ({
      nodeId: n.nodeId,
      port: n.port,
      controllerPort: n.controllerPort,
      dir: n.dir,
      pid: n.pid ?? 0,
      logFile: n.logFile,
    })),
    alreadyRunning,
    startMs,
  };
}

/**
 * Starts one node of a cluster again (after it was killed or stopped) and waits until it answers.
 * Returns its pid.
 */
export async function startClusterNode(opts: {
  dir: string;
  nodeId: number;
  detached?: boolean;
  timeoutMs?: number;
}): Promise<number> {
  const dir = resolve(opts.dir);
  const state = await readClusterState(dir);
  const node = state?.nodes.find((n) => n.nodeId === opts.nodeId);
  if (state === undefined || node === undefined) {
    throw new LocalKafkaError('WEIR_KAFKA_START_FAILED', `${dir} has no cluster node ${opts.nodeId}`);
  }
  const nodeDir = clusterNodeDir(dir, node.nodeId);
  const pid = await readPid(nodeDir);
  if (pid !== undefined && (await isOurKafka(pid, nodeDir))) return pid;
  const { child, exited } = await spawnClusterNode(dir, state, node, opts.detached ?? true);
  await waitNodeReady(nodeDir, node.port, exited, Date.now() + (opts.timeoutMs ?? 120_000));
  child.unref();
  return child.pid!;
}

/** Stops one node (SIGTERM, SIGKILL after `timeoutMs`). */
export async function stopClusterNode(opts: {
  dir: string;
  nodeId: number;
  timeoutMs?: number;
  log?: Log;
}): Promise<{ wasRunning: boolean; pid?: number; killed: boolean }> {
  return stopKafka({
    dir: clusterNodeDir(resolve(opts.dir), opts.nodeId),
    timeoutMs: opts.timeoutMs,
    log: opts.log,
  });
}

/** Stops every node of a cluster, all at once. */
export async function stopKafkaCluster(
  opts: { dir?: string; timeoutMs?: number; log?: Log } = {},
): Promise<Array<{ nodeId: number; wasRunning: boolean; pid?: number; killed: boolean }>> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const state = await readClusterState(dir);
  if (state === undefined) return [];
  return Promise.all(
    state.nodes.map(async (n) => ({
      nodeId: n.nodeId,
      ...(await stopKafka({ dir: clusterNodeDir(dir, n.nodeId), timeoutMs: opts.timeoutMs, log: opts.log })),
    })),
  );
}
