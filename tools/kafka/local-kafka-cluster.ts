// A local Kafka cluster (`weir kafka start --brokers 3`): N combined broker+controller nodes (N
// voters), each its own JVM and state dir, like the single node of local-kafka.ts.
//
// Node i (1-based) listens on P + 2(i-1) (broker) and P + 2(i-1) + 1 (controller), so the default
// 3-node cluster takes 19092–19097. All nodes are formatted with one cluster id and started
// together (a quorum needs a majority of voters to elect a leader); each is ready when it logs
// `Kafka Server started` and answers a metadata request on its own port. With three nodes or more,
// topics are replicated 3 times with min.insync.replicas 2, like production (broker-properties.ts).
//
// A cluster's state dir holds cluster.json (nodes, ports, version) and node-1/, node-2/, node-3/,
// each laid out like a single node's state dir (node-dir.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkJava } from '../local-service/java.ts';
import { tcpAnswers } from '../local-service/ports.ts';
import { pollUntil, type SpawnedService, type StartServiceOptions } from '../local-service/process.ts';
import { exists } from '../local-service/run.ts';
import { type Log, noLog } from '../local-service/service.ts';
import { type ClusterNode, serverProperties } from './broker-properties.ts';
import { assertKafkaPortFree, DEFAULT_KAFKA_PORT, defaultKafkaDir, stopKafka } from './local-kafka.ts';
import { DEFAULT_KAFKA_VERSION, ensureKafkaJars } from './maven.ts';
import { brokerJvmArgs, dataDirOf, formatStorage, isFormatted, writeNodeConfig } from './node-dir.ts';
import { metadataAnswers, waitBrokerReady } from './readiness.ts';
import { KAFKA, LocalKafkaError } from './service.ts';

export type { ClusterNode } from './broker-properties.ts';

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

/** Defaults: 3 nodes, base port 19092, heap 384 MiB per node, 120 s to answer. */
export interface StartKafkaClusterOptions extends StartServiceOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Base port: node i uses port + 2(i-1) and port + 2(i-1) + 1 (default 19092). */
  port?: number;
  /** Explicit ports per node (tests take free ports); overrides `port`. */
  nodePorts?: ReadonlyArray<{ port: number; controllerPort: number }>;
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

/** server.properties of one node of the cluster whose voters are `nodes`. */
function nodeProperties(nodeDir: string, version: string, node: ClusterNode, nodes: ClusterNode[]): string {
  return serverProperties({
    dataDir: dataDirOf(nodeDir),
    port: node.port,
    controllerPort: node.controllerPort,
    version,
    nodeId: node.nodeId,
    voters: nodes,
  });
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
      const pid = await KAFKA.runningPid(nodeDir);
      const running = pid !== undefined;
      return {
        ...n,
        dir: nodeDir,
        running,
        answering: running && (await tcpAnswers(n.port)),
        ...(running && { pid }),
        logFile: KAFKA.files(nodeDir).logFile,
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
): Promise<SpawnedService> {
  const java = await checkJava(KAFKA);
  const nodeDir = clusterNodeDir(dir, node.nodeId);
  const config = await writeNodeConfig(
    nodeDir,
    state.version,
    nodeProperties(nodeDir, state.version, node, state.nodes),
  );
  const classpath = join(state.libsDir, '*');
  return KAFKA.spawn(
    nodeDir,
    java.bin,
    brokerJvmArgs({ heapMb: state.heapMb, nodeDir, classpath, config }),
    detached,
  );
}

/** Waits until a node has logged its readiness line and answers a metadata request. */
function waitNodeReady(nodeDir: string, port: number, spawned: SpawnedService, deadline: number) {
  return waitBrokerReady({
    nodeDir,
    port,
    exited: spawned.exited,
    deadline,
    who: `Kafka node in ${nodeDir}`,
    inTime: 'in time',
  });
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
  if ((await isFormatted(dir)) || (await KAFKA.readPid(dir)) !== undefined) {
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
      if (!(await pollUntil(() => metadataAnswers(`127.0.0.1:${n.port}`), deadline))) {
        throw new LocalKafkaError(
          'WEIR_KAFKA_NOT_ANSWERING',
          `Kafka node ${n.nodeId} (pid ${n.pid}) runs for ${dir} but does not answer at 127.0.0.1:${n.port}; see ${n.logFile} or run \`weir kafka stop --dir ${dir}\``,
          { logTail: await KAFKA.logTail(n.dir) },
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
  const java = await checkJava(KAFKA);
  const jars = await ensureKafkaJars({ version, cacheDir: opts.cacheDir, log });
  for (const n of nodes) {
    if (pending.some((p) => p.nodeId === n.nodeId) || existing === undefined) {
      await assertKafkaPortFree(n.port, `node ${n.nodeId} broker`);
      await assertKafkaPortFree(n.controllerPort, `node ${n.nodeId} controller`);
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
  await Promise.all(
    toStart.map(async (n) => {
      const nodeDir = clusterNodeDir(dir, n.nodeId);
      if (await isFormatted(nodeDir)) return;
      const dataDir = dataDirOf(nodeDir);
      await mkdir(dataDir, { recursive: true });
      const config = await writeNodeConfig(nodeDir, version, nodeProperties(nodeDir, version, n, nodes));
      log(`formatting KRaft storage of node ${n.nodeId} in ${dataDir}`);
      await formatStorage({ java: java.bin, nodeDir, classpath: join(jars.libsDir, '*'), config, clusterId });
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
      toStart.map((n, i) => waitNodeReady(clusterNodeDir(dir, n.nodeId), n.port, spawned[i]!, deadline)),
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
  const pid = await KAFKA.runningPid(nodeDir);
  if (pid !== undefined) return pid;
  const spawned = await spawnClusterNode(dir, state, node, opts.detached ?? true);
  await waitNodeReady(nodeDir, node.port, spawned, Date.now() + (opts.timeoutMs ?? 120_000));
  spawned.child.unref();
  return spawned.pid;
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
