// A local single-node Apache Kafka (KRaft, combined broker+controller on 127.0.0.1) for development
// and tests, run from the official jars on Maven Central: no Docker, no tarball download.
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
// Jars are shared by every state dir: $XDG_CACHE_HOME/weir/kafka-VERSION/libs (or ~/.cache/...).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
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

export type { LocalKafkaSecurityInfo, LocalKafkaSecurityPorts } from './local-kafka-security.ts';

export const DEFAULT_KAFKA_VERSION = '4.3.1';
export const DEFAULT_KAFKA_PORT = 19092;
export const MIN_JAVA_MAJOR = 17;
const READY_LINE = 'Kafka Server started';
const JAR_MARKER = '.weir-complete.json';
// Pinned so the jar set does not depend on which plugin version Maven would pick by default.
const DEPENDENCY_PLUGIN_VERSION = '3.8.1';
const LOG4J2_VERSION = '2.25.4'; // Kafka 4.x builds against log4j2 2.25.x
const INSTALL_HINT = 'e.g. `sudo apt-get install openjdk-17-jre-headless maven` on Debian/Raspberry Pi OS';

export type LocalKafkaErrorCode =
  | 'WEIR_KAFKA_JAVA_MISSING'
  | 'WEIR_KAFKA_JAVA_TOO_OLD'
  | 'WEIR_KAFKA_MAVEN_MISSING'
  | 'WEIR_KAFKA_FETCH_FAILED'
  | 'WEIR_KAFKA_FORMAT_FAILED'
  | 'WEIR_KAFKA_SECURITY_FAILED'
  | 'WEIR_KAFKA_PORT_IN_USE'
  | 'WEIR_KAFKA_START_FAILED'
  | 'WEIR_KAFKA_START_TIMEOUT'
  | 'WEIR_KAFKA_NOT_ANSWERING'
  | 'WEIR_KAFKA_STOP_FAILED';

export class LocalKafkaError extends Error {
  readonly code: LocalKafkaErrorCode;
  /** Last lines of the broker's or Maven's output, when there is something to show. */
  readonly logTail: string | undefined;

  constructor(
    code: LocalKafkaErrorCode,
    message: string,
    options: { logTail?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'LocalKafkaError';
    this.code = code;
    this.logTail = options.logTail;
  }
}

export type Log = (line: string) => void;
const noLog: Log = () => {};

export interface KafkaJars {
  version: string;
  libsDir: string;
  jars: string[];
  /** True when Maven ran; false when the cache was already complete. */
  fetched: boolean;
}

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

export function defaultJarCacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cache, 'weir', `kafka-${version}`);
}

const pidFile = (dir: string) => join(dir, 'kafka.pid');
const stateFile = (dir: string) => join(dir, 'kafka.json');
const logFileOf = (dir: string) => join(dir, 'logs', 'kafka.out');

function kafkaMajor(version: string): number {
  const major = Number(version.split('.')[0]);
  if (!Number.isInteger(major) || major < 3) throw new Error(`unsupported Kafka version '${version}'`);
  return major;
}

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
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes from Maven
  const clean = text.replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
  // drop Maven's generic advice after an error; keep what went wrong
  const boilerplate =
    /^\[ERROR\] *$|^\[ERROR\] (To see the full|Re-run Maven|For more information|\[Help \d+\] http)/;
  return clean
    .split('\n')
    .filter((l) => !boilerplate.test(l))
    .slice(-lines)
    .join('\n');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function javaBin(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

/** Finds `java` (JAVA_HOME or PATH) and checks it is Java 17 or newer. */
export async function checkJava(): Promise<{ bin: string; major: number }> {
  const bin = javaBin();
  const r = await run(bin, ['-version'], { timeoutMs: 30_000 });
  if (r.error?.code === 'ENOENT') {
    throw new LocalKafkaError(
      'WEIR_KAFKA_JAVA_MISSING',
      `Java ${MIN_JAVA_MAJOR}+ is needed to run Kafka, but \`${bin}\` was not found; install it (${INSTALL_HINT}) or set JAVA_HOME`,
    );
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
  const major = m === null ? Number.NaN : m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (r.code !== 0 || !Number.isFinite(major)) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_JAVA_MISSING',
      `\`${bin} -version\` failed; Java ${MIN_JAVA_MAJOR}+ is needed to run Kafka (${INSTALL_HINT})`,
      { logTail: tail(r.output) },
    );
  }
  if (major < MIN_JAVA_MAJOR) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_JAVA_TOO_OLD',
      `Kafka needs Java ${MIN_JAVA_MAJOR} or newer, but \`${bin}\` is Java ${major}; install a newer one (${INSTALL_HINT}) or point JAVA_HOME at it`,
    );
  }
  return { bin, major };
}

// ---------------------------------------------------------------------------------------------
// Jars

function loggingDeps(version: string): Array<[string, string, string]> {
  if (kafkaMajor(version) >= 4) {
    // Kafka 4.x logs through slf4j 1.7.36 to log4j2; its binding is compileOnly, so add it here
    // (the 1.x binding log4j-slf4j-impl, not log4j-slf4j2-impl). Without it Kafka logs nothing.
    return [
      ['org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J2_VERSION],
      ['org.apache.logging.log4j', 'log4j-core', LOG4J2_VERSION],
      ['org.apache.logging.log4j', 'log4j-api', LOG4J2_VERSION],
    ];
  }
  return [
    ['org.slf4j', 'slf4j-reload4j', '1.7.36'],
    ['ch.qos.reload4j', 'reload4j', '1.2.25'],
  ];
}

export function kafkaPomXml(version: string): string {
  const deps: Array<[string, string, string]> = [
    ['org.apache.kafka', 'kafka_2.13', version],
    ...loggingDeps(version),
  ];
  const depXml = deps
    .map(
      ([g, a, v]) =>
        `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version><scope>runtime</scope></dependency>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by weir (tools/kafka/local-kafka.ts): the classpath of a Kafka ${version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.local</groupId>
  <artifactId>weir-local-kafka</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${depXml}
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>${DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

async function completeJars(libsDir: string, pom: string): Promise<string[] | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(libsDir, JAR_MARKER), 'utf8')) as {
      pom?: string;
      jars?: string[];
    };
    if (marker.pom !== pom || !Array.isArray(marker.jars) || marker.jars.length === 0) return undefined;
    for (const jar of marker.jars) if (!(await exists(join(libsDir, jar)))) return undefined;
    return marker.jars;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the jars of Kafka `version` (plus a logging backend) are in the shared cache, running
 * Maven only when the cache is not complete. Maven itself caches in ~/.m2, so a rerun after the
 * cache dir was removed is fast and offline.
 */
export async function ensureKafkaJars(
  opts: { version?: string; cacheDir?: string; log?: Log } = {},
): Promise<KafkaJars> {
  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const log = opts.log ?? noLog;
  const root = resolve(opts.cacheDir ?? defaultJarCacheDir(version));
  const libsDir = join(root, 'libs');
  const pom = kafkaPomXml(version);

  const cached = await completeJars(libsDir, pom);
  if (cached !== undefined) return { version, libsDir, jars: cached, fetched: false };

  await mkdir(root, { recursive: true });
  const pomPath = join(root, 'pom.xml');
  await writeFile(pomPath, pom);
  // Copy into a private dir and rename it into place, so an interrupted or concurrent fetch never
  // leaves a half-filled libs dir that looks complete.
  const tmp = join(root, `libs.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  log(`downloading Kafka ${version} jars with Maven into ${libsDir} ...`);
  const r = await run(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      pomPath,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${tmp}`,
    ],
    { cwd: root },
  );
  try {
    if (r.error?.code === 'ENOENT') {
      throw new LocalKafkaError(
        'WEIR_KAFKA_MAVEN_MISSING',
        `Maven (\`mvn\`) is needed to download Kafka's jars from Maven Central but was not found on PATH; install it (${INSTALL_HINT})`,
      );
    }
    if (r.code !== 0) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_FETCH_FAILED',
        `Maven could not download Kafka ${version} (org.apache.kafka:kafka_2.13:${version}); see the output below (pom: ${pomPath})`,
        { logTail: tail(r.output) },
      );
    }
    const jars = (await readdir(tmp)).filter((f) => f.endsWith('.jar')).sort();
    if (!jars.includes(`kafka_2.13-${version}.jar`) || !jars.some((j) => j.startsWith('kafka-clients-'))) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_FETCH_FAILED',
        `Maven finished but ${tmp} lacks kafka_2.13-${version}.jar or kafka-clients; pom: ${pomPath}`,
        { logTail: tail(r.output) },
      );
    }
    await writeFile(join(tmp, JAR_MARKER), `${JSON.stringify({ version, pom, jars }, null, 2)}\n`);
    const raced = await completeJars(libsDir, pom);
    if (raced !== undefined) return { version, libsDir, jars: raced, fetched: true };
    await rm(libsDir, { recursive: true, force: true });
    await rename(tmp, libsDir);
    return { version, libsDir, jars, fetched: true };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Config files

export function serverProperties(o: {
  dataDir: string;
  port: number;
  controllerPort: number;
  version: string;
  security?: ReturnType<typeof securityProperties>;
}): string {
  const sec = o.security;
  const listeners = [`PLAINTEXT://127.0.0.1:${o.port}`, ...(sec?.listeners ?? [])];
  const lines = [
    '# Generated by weir (tools/kafka/local-kafka.ts); rewritten on every start.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    'controller.listener.names=CONTROLLER',
    `listeners=${[...listeners, `CONTROLLER://127.0.0.1:${o.controllerPort}`].join(',')}`,
    `advertised.listeners=${listeners.join(',')}`,
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...(sec?.protocolMap ?? [])].join(',')}`,
    `log.dirs=${o.dataDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    // the default of 50 partitions makes the first consumer group slow to form
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=2',
    'auto.create.topics.enable=true',
  ];
  if (kafkaMajor(o.version) >= 4) {
    lines.push(
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
    );
  }
  if (sec !== undefined) lines.push(...sec.lines);
  return `${lines.join('\n')}\n`;
}

/** Logging config: WARN and up, plus the INFO readiness line `Kafka Server started`. */
function logConfig(version: string): { file: string; text: string; jvmFlag: (path: string) => string } {
  if (kafkaMajor(version) >= 4) {
    return {
      file: 'log4j2.properties',
      text: [
        'status = warn',
        'appender.stdout.type = Console',
        'appender.stdout.name = STDOUT',
        'appender.stdout.layout.type = PatternLayout',
        'appender.stdout.layout.pattern = [%d] %p %m (%c)%n',
        'rootLogger.level = WARN',
        'rootLogger.appenderRef.stdout.ref = STDOUT',
        'logger.raftserver.name = kafka.server.KafkaRaftServer',
        'logger.raftserver.level = INFO',
        '',
      ].join('\n'),
      jvmFlag: (path) => `-Dlog4j2.configurationFile=${path}`,
    };
  }
  return {
    file: 'log4j.properties',
    text: [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.server.KafkaRaftServer=INFO',
      '',
    ].join('\n'),
    jvmFlag: (path) => `-Dlog4j.configuration=file:${path}`,
  };
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
    [
      `-Xms${heapMb}m`,
      `-Xmx${heapMb}m`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-Djava.awt.headless=true',
      // marks the process as ours, for pid-file checks (see isOurKafka)
      `-Dweir.kafka.dir=${dir}`,
      logCfg.jvmFlag(logCfgPath),
      '-cp',
      classpath,
      'kafka.Kafka',
      propsPath,
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
