// A local Apache Kafka for development and tests — one combined broker+controller node (KRaft) on
// 127.0.0.1 — run from the official jars on Maven Central: no Docker, no tarball download. This
// file starts, stops and checks the one node; maven.ts assembles the jars, node-dir.ts prepares the
// node's state dir (broker-properties.ts says what its config holds), readiness.ts says when it is
// ready, and tools/local-service/process.ts runs the JVM. A cluster of three such nodes (a 3-voter
// quorum; topics replicated 3 times with min.insync.replicas 2, like production) is
// local-kafka-cluster.ts.
//
// Version: Kafka 4.3.1 (Java 17+, log4j2 backend). Checked against the kafkajs 2.2.4 the gateway
// uses: idempotent producer with acks -1 and gzip, producing to an auto-created topic, consumer
// groups (fromBeginning, offset commits), admin createTopics/listTopics/fetchTopicMetadata/
// describeGroups/fetchTopicOffsets/deleteTopics all work despite 4.0 dropping old protocol versions
// (KIP-896). 4.4.0 is listed in Maven Central's metadata, but its dependency
// org.apache.kafka:kafka-tools-api:4.4.0 has no jar there, so its tree does not resolve.
// 3.9.x still works (reload4j backend): pass `version: '3.9.2'` / `--kafka-version 3.9.2`.
//
// The state dir (default $XDG_STATE_HOME/weir/kafka or ~/.local/state/weir/kafka) is laid out as
// node-dir.ts says; kafka.json holds the ports, version and jars of the running broker.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { checkJava } from '../local-service/java.ts';
import { assertPortFree, tcpAnswers } from '../local-service/ports.ts';
import { type Probe, type StartServiceOptions, stateDir } from '../local-service/process.ts';
import { exists } from '../local-service/run.ts';
import { type Log, noLog } from '../local-service/service.ts';
import { serverProperties } from './broker-properties.ts';
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
import { DEFAULT_KAFKA_VERSION, ensureKafkaJars } from './maven.ts';
import { brokerJvmArgs, dataDirOf, formatStorage, isFormatted, writeNodeConfig } from './node-dir.ts';
import { metadataAnswers, waitBrokerReady } from './readiness.ts';
import { KAFKA, LocalKafkaError } from './service.ts';

// What others import from here (the tests, the benchmarks, the demo).
export { ignoreKafkajsNegativeTimeoutWarnings } from '../../gateway/sinks/kafka/kafkajs-warnings.ts';
export { freePorts } from '../local-service/ports.ts';
export type { LocalKafkaSecurityInfo, LocalKafkaSecurityPorts } from './local-kafka-security.ts';
export { DEFAULT_KAFKA_VERSION } from './maven.ts';
export { LocalKafkaError, type LocalKafkaErrorCode } from './service.ts';

export const DEFAULT_KAFKA_PORT = 19092;

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

export function defaultKafkaDir(env: NodeJS.ProcessEnv = process.env): string {
  return stateDir('kafka', env);
}

/** The default state dir of a cluster (`weir kafka start --brokers 3`). */
export function defaultKafkaClusterDir(env: NodeJS.ProcessEnv = process.env): string {
  return `${defaultKafkaDir(env)}-cluster`;
}

/** Resolves when a port for one of Kafka's listeners (`what`) is free; WEIR_KAFKA_PORT_IN_USE if not. */
export function assertKafkaPortFree(port: number, what: string): Promise<void> {
  return assertPortFree(
    port,
    (reason) =>
      new LocalKafkaError(
        'WEIR_KAFKA_PORT_IN_USE',
        `cannot use 127.0.0.1:${port} for Kafka's ${what} listener: ${reason} (another Kafka? pick another --port)`,
      ),
  );
}

export async function kafkaStatus(opts: { dir?: string } = {}): Promise<LocalKafkaStatus> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const { state, ...status } = await KAFKA.status<StateFile>(dir, (s) => tcpAnswers(s.port));
  return { ...status, port: state?.port, brokers: state?.brokers, version: state?.version };
}

/**
 * Defaults: the state dir defaultKafkaDir(), port 19092 (controller: port + 1), heap 512 MiB, jars
 * cached in ~/.cache/weir/kafka-VERSION, 90 s to answer.
 */
export interface StartKafkaOptions extends StartServiceOptions {
  port?: number;
  controllerPort?: number;
  /**
   * Also open SASL_PLAINTEXT, SASL_SSL and SSL (client certificate) listeners on these ports
   * (tools/kafka/local-kafka-security.ts). Needs a state dir formatted with them.
   */
  security?: LocalKafkaSecurityPorts;
}

/** The security listeners' config for `dir`, making their certificates and password the first time. */
async function securityConfig(
  dir: string,
  ports: LocalKafkaSecurityPorts,
): Promise<ReturnType<typeof securityProperties>> {
  try {
    const { storePassword } = await ensureSecurityMaterial(dir);
    return securityProperties({ dir, ports, storePassword, userPassword: await userPassword(dir) });
  } catch (cause) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_SECURITY_FAILED',
      `making the security listeners' certificates in ${securityDir(dir)} failed: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** What startKafka says of the broker that already runs for `dir`. */
function alreadyRunning(
  dir: string,
  running: { pid: number; state: StateFile },
  opts: StartKafkaOptions,
): LocalKafkaInfo {
  const { state } = running;
  if (opts.security !== undefined && state.security === undefined) {
    (opts.log ?? noLog)('note: already running without the security listeners; stop it first to add them');
  }
  return {
    brokers: state.brokers,
    pid: running.pid,
    dir,
    port: state.port,
    controllerPort: state.controllerPort,
    version: state.version,
    logFile: KAFKA.files(dir).logFile,
    alreadyRunning: true,
    ...(state.security !== undefined && { security: securityInfo(dir, state.security) }),
  };
}

/** How a running broker is reached, and asked whether it answers. */
const brokerProbe: Probe<StateFile> = {
  address: (state) => state.brokers,
  answers: (state) => metadataAnswers(state.brokers),
};

export async function startKafka(opts: StartKafkaOptions = {}): Promise<LocalKafkaInfo> {
  const dir = resolve(opts.dir ?? defaultKafkaDir());
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const running = await KAFKA.runningInstance(dir, brokerProbe, { ...opts, timeoutMs });
  if (running !== undefined) return alreadyRunning(dir, running, opts);

  const log = opts.log ?? noLog;
  const { logFile } = KAFKA.files(dir);
  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const port = opts.port ?? DEFAULT_KAFKA_PORT;
  const controllerPort = opts.controllerPort ?? port + 1;
  const heapMb = opts.heapMb ?? 512;
  const brokers = `127.0.0.1:${port}`;

  const java = await checkJava(KAFKA);
  const jars = await ensureKafkaJars({ version, cacheDir: opts.cacheDir, log });
  await assertKafkaPortFree(port, 'broker');
  await assertKafkaPortFree(controllerPort, 'controller');
  const securityPorts = opts.security;
  if (securityPorts !== undefined) {
    await assertKafkaPortFree(securityPorts.saslPort, 'SASL_PLAINTEXT');
    await assertKafkaPortFree(securityPorts.saslSslPort, 'SASL_SSL');
    await assertKafkaPortFree(securityPorts.sslPort, 'SSL');
  }

  const dataDir = dataDirOf(dir);
  await mkdir(dataDir, { recursive: true });
  const security = securityPorts === undefined ? undefined : await securityConfig(dir, securityPorts);
  const scramMarker = join(securityDir(dir), 'scram-users-added');
  if (security !== undefined && (await isFormatted(dir)) && !(await exists(scramMarker))) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_FORMAT_FAILED',
      `${dataDir} was formatted without the security listeners' SCRAM users; use a fresh --dir (or remove ${dataDir}) to start with --security`,
    );
  }
  const config = await writeNodeConfig(
    dir,
    version,
    serverProperties({ dataDir, port, controllerPort, version, security }),
  );
  const classpath = join(jars.libsDir, '*');

  if (!(await isFormatted(dir))) {
    log(`formatting KRaft storage in ${dataDir}`);
    await formatStorage({
      java: java.bin,
      nodeDir: dir,
      classpath,
      config,
      clusterId: randomBytes(16).toString('base64url'),
      extraArgs: security !== undefined ? addScramArgs(await userPassword(dir)) : [],
    });
    if (security !== undefined) await writeFile(scramMarker, `${new Date().toISOString()}\n`);
  }

  log(`starting Kafka ${version} on ${brokers}`);
  const spawned = await KAFKA.spawn(
    dir,
    java.bin,
    brokerJvmArgs({ heapMb, nodeDir: dir, classpath, config }),
    opts.detached ?? true,
  );
  // The time budget starts here: downloading jars and formatting do not count against it.
  const deadline = Date.now() + timeoutMs;
  const { pid } = spawned;
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
  await KAFKA.writeState(dir, state);

  try {
    await waitBrokerReady({
      nodeDir: dir,
      port,
      exited: spawned.exited,
      deadline,
      who: 'Kafka',
      inTime: `within ${timeoutMs / 1000} s`,
    });
  } catch (e) {
    if (e instanceof LocalKafkaError && e.code === 'WEIR_KAFKA_START_TIMEOUT') {
      await stopKafka({ dir, timeoutMs: 10_000 }).catch(() => {});
    }
    throw e;
  }
  spawned.child.unref();
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
  return KAFKA.stop(resolve(opts.dir ?? defaultKafkaDir()), opts);
}
