// Real faults for the delivery tests: a dedicated Kafka broker the test may kill (SIGKILL),
// freeze (SIGSTOP) and restart; weir as a child process that can be killed with SIGKILL; and
// devices with persistent sessions that remember which sequence numbers were acknowledged.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { startKafka, stopKafka } from '../../tools/kafka/local-kafka.ts';
import { type Fleet, readingFor, topicFor } from './devices.ts';
import { repoRoot } from './gateway.ts';
import { freePort } from './ports.ts';

// Kept here too: the fault tests import their ports with the rest.
export { freePort, freePorts } from './ports.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `check` is true, polling; fails after `timeoutMs` with `what`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A Kafka broker of the test's own, on fixed ports, that the test may kill and restart. */
export class DedicatedKafka {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'weir-fault-kafka-'));
  readonly port: number;
  readonly controllerPort: number;
  pid = 0;

  constructor(port: number, controllerPort: number) {
    this.port = port;
    this.controllerPort = controllerPort;
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async create(): Promise<DedicatedKafka> {
    return new DedicatedKafka(await freePort(), await freePort());
  }

  async start(): Promise<void> {
    const info = await startKafka({
      dir: this.dir,
      port: this.port,
      controllerPort: this.controllerPort,
      detached: false,
      timeoutMs: 120_000,
    });
    this.pid = info.pid;
  }

  /** SIGKILL: the broker vanishes, connections are refused until it is started again. */
  kill(): void {
    this.#signal('SIGKILL');
  }

  /** SIGSTOP: the broker keeps its sockets open and answers nothing — a hang. */
  freeze(): void {
    this.#signal('SIGSTOP');
  }

  thaw(): void {
    this.#signal('SIGCONT');
  }

  /**
   * Signals the broker's JVM. Never pid 0 (a broker not started yet): that would signal the whole
   * process group, which every test file of the run shares with its brokers — a SIGCONT would
   * thaw another file's frozen broker, a SIGKILL end the run.
   */
  #signal(signal: NodeJS.Signals): void {
    if (this.pid <= 0) throw new Error(`the dedicated Kafka in ${this.dir} was never started`);
    process.kill(this.pid, signal);
  }

  /** Stops a running broker (SIGTERM); does nothing when it is not running. */
  async stopIfRunning(): Promise<void> {
    await stopKafka({ dir: this.dir }).catch(() => {});
  }

  async destroy(): Promise<void> {
    try {
      if (this.pid > 0) this.thaw();
    } catch {}
    await stopKafka({ dir: this.dir }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes a weir config for the sample routes with test-unique topics. */
export function writeWeirConfig(opts: {
  dir: string;
  port: number;
  brokers: string;
  topicPrefix: string;
  spool?: Record<string, unknown>;
  kafka?: Record<string, unknown>;
  /** More top-level sections (e.g. schemaRegistry). */
  extra?: Record<string, unknown>;
}): { file: string; topics: Record<Fleet, string> } {
  const topics = {
    city: `${opts.topicPrefix}.city`,
    factory: `${opts.topicPrefix}.factory`,
    vehicle: `${opts.topicPrefix}.vehicle`,
  };
  const config = {
    gatewayId: 'fault-test',
    mqtt: { host: '127.0.0.1', port: opts.port },
    auth: 'none',
    kafka: {
      brokers: [opts.brokers],
      deadLetterTopic: `${opts.topicPrefix}.deadletter`,
      requestTimeoutMs: 5000,
      connectionTimeoutMs: 2000,
      ...opts.kafka,
    },
    batch: { lingerMs: 5 },
    spool: { dir: path.join(opts.dir, 'spool'), checkpointIntervalMs: 200, ...opts.spool },
    routes: [
      {
        name: 'smart-city',
        mqttTopic: 'city/{site}/{sensorType}/{deviceId}',
        kafkaTopic: topics.city,
        schema: path.join(repoRoot, 'schemas/smart-city.avsc'),
      },
      {
        name: 'factory-line',
        mqttTopic: 'factory/{plant}/{line}/{machineId}/telemetry',
        kafkaTopic: topics.factory,
        schema: path.join(repoRoot, 'schemas/factory-line.avsc'),
        key: 'machineId',
      },
      {
        name: 'vehicle-gps',
        mqttTopic: 'fleet/{fleetId}/vehicles/{vehicleId}/position',
        kafkaTopic: topics.vehicle,
        schema: path.join(repoRoot, 'schemas/vehicle-gps.avsc'),
        key: 'vehicleId',
      },
    ],
    shutdown: { drainTimeoutMs: 3000 },
    http: { host: '127.0.0.1', port: 0 },
    ...opts.extra,
  };
  const file = path.join(opts.dir, 'weir.yaml');
  writeFileSync(file, stringify(config));
  return { file, topics };
}

/** `weir start` as a child process. */
export class WeirProcess {
  readonly config: string;
  child: ChildProcess | null = null;
  output = '';

  constructor(config: string) {
    this.config = config;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'bin/weir.ts'), 'start', '--config', this.config],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const mark = this.output.length;
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
    await waitFor(
      () => this.output.indexOf('MQTT listener ready', mark) >= 0 || child.exitCode !== null,
      60_000,
      'weir to listen',
    );
    if (child.exitCode !== null) throw new Error(`weir exited with ${child.exitCode}:\n${this.output}`);
  }

  get pid(): number {
    return this.child!.pid!;
  }

  async kill9(): Promise<void> {
    const child = this.child!;
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }

  async stop(): Promise<number | null> {
    const child = this.child!;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    return code as number | null;
  }

  /** Resident memory of the process, bytes (Linux). */
  async rssBytes(): Promise<number> {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  }
}

/**
 * A device with a persistent session (clean: false): mqtt.js keeps unacknowledged QoS 1
 * messages and sends them again after reconnecting. `acked` holds the sequence numbers whose
 * PUBACK arrived.
 *
 * mqtt.js itself fails a publish that was queued while it replayed its store after a reconnect
 * if the connection drops again meanwhile ("Connection closed"; the message never left the
 * client). Like a real device application, this one publishes such a message again; since the
 * device then sends it after newer ones, it is left out of the order check (`resent`).
 */
export class Device {
  readonly id: string;
  readonly fleet: Fleet;
  readonly topic: string;
  readonly acked = new Set<number>();
  /** Publishes mqtt.js gave up on, with the error (none expected). */
  readonly failed: Array<{ seq: number; error: string }> = [];
  readonly resent = new Set<number>();
  #retry: number[] = [];
  sent = 0;
  readonly client: MqttClient;
  #timer: NodeJS.Timeout | null = null;

  constructor(url: string, fleet: Fleet, id: string) {
    this.id = id;
    this.fleet = fleet;
    this.topic = topicFor(fleet, id);
    this.client = mqtt.connect(url, {
      clientId: id,
      clean: false,
      reconnectPeriod: 200,
      connectTimeout: 5000,
      keepalive: 30,
    });
    this.client.on('error', () => {}); // connection refused while weir is down: keep retrying
  }

  /** Publishes one QoS 1 message every `intervalMs` until stopped. */
  publishEvery(intervalMs: number): void {
    this.#timer = setInterval(() => this.publishNext(), intervalMs);
  }

  publishNext(): void {
    this.#resendFailed();
    this.#publish(++this.sent);
  }

  #publish(seq: number): void {
    this.client.publish(
      this.topic,
      JSON.stringify(readingFor(this.fleet, seq, Date.now())),
      { qos: 1 },
      (err) => {
        if (err) {
          this.failed.push({ seq, error: err.message });
          this.#retry.push(seq);
        } else {
          this.acked.add(seq);
        }
      },
    );
  }

  #resendFailed(): void {
    if (!this.client.connected) return;
    for (const seq of this.#retry.splice(0)) {
      this.resent.add(seq);
      this.#publish(seq);
    }
  }

  stopPublishing(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    // Keep resending what mqtt.js failed until it is acknowledged.
    this.#timer = setInterval(() => this.#resendFailed(), 200);
  }

  get unacked(): number {
    return this.sent - this.acked.size;
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.client.endAsync(true);
  }
}

export function fleetOf(i: number): Fleet {
  return (['city', 'factory', 'vehicle'] as const)[i % 3]!;
}

export interface DeliveryReport {
  acked: number;
  received: number;
  missing: Array<{ device: string; seq: number }>;
  duplicates: number;
  outOfOrder: Array<{ device: string; after: number; seq: number }>;
}

/**
 * Compares what devices had acknowledged with what Kafka holds: every acknowledged seq must be
 * there; duplicates are counted (never loss); order is checked on first occurrences per device.
 */
export function compareDelivery(
  devices: readonly Device[],
  received: ReadonlyArray<{ deviceId: string; seq: number }>,
): DeliveryReport {
  const seen = new Map<string, Set<number>>();
  const last = new Map<string, number>();
  let duplicates = 0;
  const outOfOrder: DeliveryReport['outOfOrder'] = [];
  const resent = new Map(devices.map((d) => [d.id, d.resent]));
  for (const r of received) {
    const s = seen.get(r.deviceId) ?? new Set<number>();
    seen.set(r.deviceId, s);
    if (s.has(r.seq)) {
      duplicates++;
      continue;
    }
    s.add(r.seq);
    if (resent.get(r.deviceId)?.has(r.seq)) continue;
    const prev = last.get(r.deviceId) ?? 0;
    if (r.seq < prev) outOfOrder.push({ device: r.deviceId, after: prev, seq: r.seq });
    last.set(r.deviceId, Math.max(prev, r.seq));
  }
  const missing: DeliveryReport['missing'] = [];
  let acked = 0;
  for (const d of devices) {
    acked += d.acked.size;
    const s = seen.get(d.id) ?? new Set<number>();
    for (const seq of d.acked) if (!s.has(seq)) missing.push({ device: d.id, seq });
  }
  return { acked, received: received.length, missing, duplicates, outOfOrder };
}

/** Sum of the high watermarks of `topics` on `brokers`. */
export async function highWatermarks(brokers: string, topics: readonly string[]): Promise<number> {
  const kafkajs = (await import('kafkajs')).default;
  const admin = new kafkajs.Kafka({
    clientId: 'weir-test-offsets',
    brokers: [brokers],
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    let sum = 0;
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
      for (const o of offsets) sum += Number(o.high);
    }
    return sum;
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the topics hold at least `atLeast` records and stop growing for `quietMs`. */
export async function waitUntilSettled(
  brokers: string,
  topics: readonly string[],
  atLeast: number,
  timeoutMs: number,
  quietMs = 3000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await highWatermarks(brokers, topics);
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (n >= atLeast && Date.now() - since >= quietMs) {
      return n;
    }
    if (Date.now() > deadline) return n;
    await sleep(500);
  }
}
