// A 3-node Kafka cluster of the test's own (tools/kafka: three combined broker+controller nodes,
// RF 3, min.insync.replicas 2) on free loopback ports, whose nodes the test may kill (SIGKILL),
// freeze (SIGSTOP), stop gracefully and start again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import {
  kafkaClusterStatus,
  type LocalKafkaClusterInfo,
  startClusterNode,
  startKafkaCluster,
  stopClusterNode,
  stopKafkaCluster,
} from '../../tools/kafka/local-kafka-cluster.ts';
import { sleep } from './faults.ts';
import { freePorts } from './ports.ts';

export class TestCluster {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'weir-cluster-kafka-'));
  info: LocalKafkaClusterInfo | null = null;
  readonly pids = new Map<number, number>();

  get brokers(): string {
    return this.info!.brokers;
  }

  get brokerList(): string[] {
    return this.brokers.split(',');
  }

  /** Bootstrap addresses of every node but `nodeId`. */
  brokersExcept(nodeId: number): string[] {
    return this.info!.nodes.filter((n) => n.nodeId !== nodeId).map((n) => `127.0.0.1:${n.port}`);
  }

  get nodeIds(): number[] {
    return this.info!.nodes.map((n) => n.nodeId);
  }

  async start(): Promise<{ startMs: number; rssBytes: number[] }> {
    const ports = await freePorts(6);
    this.info = await startKafkaCluster({
      dir: this.dir,
      nodePorts: [0, 1, 2].map((i) => ({ port: ports[2 * i]!, controllerPort: ports[2 * i + 1]! })),
      detached: false,
      timeoutMs: 120_000,
    });
    for (const n of this.info.nodes) this.pids.set(n.nodeId, n.pid);
    return {
      startMs: this.info.startMs,
      rssBytes: await Promise.all(this.nodeIds.map((id) => this.rss(id))),
    };
  }

  async rss(nodeId: number): Promise<number> {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${this.pids.get(nodeId)}/status`, 'utf8').catch(() => '');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  }

  kill(nodeId: number): void {
    process.kill(this.pids.get(nodeId)!, 'SIGKILL');
  }

  freeze(nodeId: number): void {
    process.kill(this.pids.get(nodeId)!, 'SIGSTOP');
  }

  thaw(nodeId: number): void {
    process.kill(this.pids.get(nodeId)!, 'SIGCONT');
  }

  /** Graceful stop (SIGTERM: controlled shutdown, leadership moves first). */
  async stop(nodeId: number): Promise<void> {
    await stopClusterNode({ dir: this.dir, nodeId, timeoutMs: 60_000 });
  }

  /** Starts a killed or stopped node again; resolves when it answers. */
  async restart(nodeId: number): Promise<void> {
    const pid = await startClusterNode({ dir: this.dir, nodeId, detached: false, timeoutMs: 120_000 });
    this.pids.set(nodeId, pid);
  }

  /** Starts every node that is not running (after a test that failed half-way), thaws frozen ones. */
  async ensureAllRunning(): Promise<void> {
    for (const pid of this.pids.values()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    }
    const { nodes } = await kafkaClusterStatus({ dir: this.dir });
    await Promise.all(nodes.filter((n) => !n.running).map((n) => this.restart(n.nodeId)));
  }

  #admin(brokers = this.brokerList) {
    return new kafkajs.Kafka({
      clientId: 'weir-test-cluster',
      brokers,
      logLevel: kafkajs.logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 5000,
      retry: { retries: 2, initialRetryTime: 100 },
    }).admin();
  }

  /** Leader, replicas and in-sync replicas of each partition of `topic`. */
  async partitions(
    topic: string,
    brokers = this.brokerList,
  ): Promise<Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }>> {
    const admin = this.#admin(brokers);
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return topics[0]!.partitions.map((p) => ({
        partition: p.partitionId,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
      }));
    } finally {
      await admin.disconnect();
    }
  }

  /** The node leading partition 0 of `topic` (an admin metadata request). */
  async leaderOf(topic: string): Promise<number> {
    return (await this.partitions(topic))[0]!.leader;
  }

  /** Waits until every partition of `topics` has all its replicas in sync again. */
  async waitFullIsr(topics: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let full = true;
      try {
        for (const t of topics) {
          for (const p of await this.partitions(t)) if (p.isr.length < p.replicas.length) full = false;
        }
      } catch {
        full = false;
      }
      if (full) return;
      if (Date.now() > deadline)
        throw new Error(`replicas of ${topics.join(', ')} not in sync after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  async destroy(): Promise<void> {
    for (const pid of this.pids.values()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    }
    await stopKafkaCluster({ dir: this.dir, timeoutMs: 15_000 }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
