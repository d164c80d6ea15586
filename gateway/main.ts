// The composition root: builds every stage from the config and wires them. Stages know only
// contracts.ts; this is the one file that knows them all.
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { Batcher } from './batcher/batcher.ts';
import { MemoryQueue } from './batcher/memory-queue.ts';
import type { LoadedConfig } from './config/load.ts';
import type { RecordQueue, Sink } from './contracts.ts';
import { DEADLETTER_SCHEMA_PATH, DeadLetterEncoder } from './deadletter/deadletter.ts';
import { WeirError } from './errors.ts';
import { Forwarder } from './forwarder/forwarder.ts';
import type { Phase, Reading } from './http/assess.ts';
import { probeDisk } from './http/disk.ts';
import { startHttpListener } from './http/server.ts';
import { type GatewayStatus, StatusMonitor } from './http/status.ts';
import { weirVersion } from './http/version.ts';
import { RoutingIntake } from './intake/intake.ts';
import { type CompiledRoute, compileRoutes } from './intake/routes.ts';
import { rateLimited } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { SchemaRegistryClient } from './registry/client.ts';
import { RegistryFramer, type SchemaTarget } from './registry/framer.ts';
import { HEADER_BYTES } from './registry/framing.ts';
import { SchemaIdCache } from './registry/id-cache.ts';
import { SchemaIdResolver } from './registry/schema-ids.ts';
import { avroFullName } from './registry/subject.ts';
import { Router } from './router/router.ts';
import { createKafkaSink } from './sinks/kafka/create.ts';
import { type BrokerSource, startBroker } from './source/broker.ts';
import type { ListenerSpec } from './source/listeners.ts';
import { sourceListeners, sourceSecurity } from './source/setup.ts';
import { DiskSpool, type ReadEntry } from './spool/disk/spool.ts';
import { SpoolPump } from './spool/pump.ts';
import { SpoolQueue } from './spool/queue.ts';

export interface GatewayOptions {
  readonly log: Logger;
  /** Replaces the Kafka sink (benchmarks use the blackhole sink). */
  readonly sink?: Sink;
  /** Backoff bounds of the forwarder; tests shorten them. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How often the schema registry is asked again (out of reach: backoff; refused: pause); tests shorten them. */
  readonly registryRetry?: { readonly initialMs: number; readonly maxMs: number; readonly refusedMs: number };
}

export interface Gateway {
  /** The plain TCP listener (the first listener when plain TCP is off). */
  readonly mqtt: { readonly host: string; readonly port: number };
  /** Every MQTT listener (tcp, tls, websocket) with its bound address. */
  readonly listeners: BrokerSource['listeners'];
  /** The operations listener (metrics, health, status page); null when http.enabled is false. */
  readonly http: { readonly host: string; readonly port: number } | null;
  readonly metrics: Metrics;
  /** What /status answers. */
  status(): GatewayStatus;
  /** The spool, when enabled. */
  readonly spool: DiskSpool | null;
  /**
   * Reads auth.usersFile again; returns the number of devices, or null without a users file.
   * Throws (a WeirError) on a bad file, keeping the logins it had.
   */
  reloadUsers(): number | null;
  /** Stops intake, drains buffered records to Kafka within the drain timeout, closes Kafka. */
  stop(): Promise<{ drained: boolean }>;
}

/**
 * With the spool, the backlog waits on disk: memory holds only what is on its way to Kafka — a
 * few full batches, so every send is full while Kafka keeps up — not batch.maxBufferedBytes of
 * records. This is what keeps RSS flat through an outage and its drain.
 */
export function spoolReadAheadBytes(batch: { maxBytes: number; maxBufferedBytes: number }): number {
  return Math.min(batch.maxBufferedBytes, Math.max(4 * batch.maxBytes, 4 * 1024 * 1024));
}

/** The spool directory: as configured (relative to the config file), else the state directory. */
export function spoolDirectory(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): string {
  const dir = loaded.config.spool.dir;
  if (dir !== undefined) return path.resolve(loaded.baseDir, dir);
  const state =
    env.STATE_DIRECTORY?.split(':')[0] ?? env.XDG_STATE_HOME ?? path.join(homedir(), '.local/state');
  return env.STATE_DIRECTORY ? path.join(state, 'spool') : path.join(state, 'weir/spool');
}

export async function startGateway(loaded: LoadedConfig, opts: GatewayOptions): Promise<Gateway> {
  const { config } = loaded;
  const { log } = opts;
  const routes = compileRoutes(loaded);
  const metrics = createMetrics({ routes: routes.map((r) => r.name), version: weirVersion() });
  const deadLetters = new DeadLetterEncoder(config.kafka.deadLetterTopic, config.gatewayId);

  const sink =
    opts.sink ??
    (await createKafkaSink({
      kafka: config.kafka,
      topics: [...routes.map((r) => r.kafkaTopic), config.kafka.deadLetterTopic],
      security: loaded.kafkaSecurity,
      log: log.child({ stage: 'sink' }),
    }));
  for (const warning of loaded.warnings) log.warn(warning);

  const registry = config.schemaRegistry;
  const framing = registry?.wireFormat === 'confluent';
  const batcher = new Batcher({ ...config.batch, framingBytesPerRecord: framing ? HEADER_BYTES : 0 });
  metrics.gauge(
    'weir_batcher_buffered_bytes',
    'Record bytes held between intake and Kafka.',
    () => batcher.bufferedBytes,
  );
  // The schema registry (absent: values are plain Avro). The id cache lives in the spool
  // directory; it is written only after the spool's lock is held (checkRegistry, below).
  const framer =
    registry === undefined || loaded.registry === null
      ? null
      : await registryFramer(loaded, routes, log.child({ stage: 'registry' }), opts.registryRetry);
  if (framer !== null) {
    metrics.gauge(
      'weir_registry_up',
      "1 while the schema registry answered weir's last request, 0 while it is out of reach (records without a known schema id wait in the spool).",
      () => (framer.framer.state.up ? 1 : 0),
    );
    metrics.gauge(
      'weir_registry_schemas_waiting',
      'Schemas whose registry id weir still needs; records of them wait in the spool.',
      () => framer.framer.state.waiting.length,
    );
  }
  const checkRegistry = async () => {
    if (framer === null) return;
    await mkdir(spoolDirectory(loaded), { recursive: true });
    await framer.framer.checkAtStart();
  };
  const forwarder = new Forwarder({
    batcher,
    sink,
    ...(framer !== null && framing && { framer: framer.framer }),
    deadLetterTopic: config.kafka.deadLetterTopic,
    toDeadLetter: (topic, record, reason) => deadLetters.kafkaRejected(topic, record, reason),
    log: log.child({ stage: 'forwarder' }),
    metrics,
    probeTimeoutMs: config.kafka.requestTimeoutMs,
    ...(opts.backoff && { initialBackoffMs: opts.backoff.initialMs, maxBackoffMs: opts.backoff.maxMs }),
  });
  // The forwarder sends when the batcher has a batch ready, and when the framer can frame one
  // that waited for a schema id.
  batcher.onReady = () => forwarder.sendSoon();
  if (framer !== null && framing) framer.framer.onReady = () => forwarder.sendSoon();

  let spool: DiskSpool | null = null;
  let pump: SpoolPump<ReadEntry> | null = null;
  let source: BrokerSource | null = null;
  // Several segments per spool, so that space frees in steps as Kafka catches up.
  const spoolSegmentBytes = Math.max(
    4096,
    Math.min(config.spool.segmentBytes, Math.floor(config.spool.maxBytes / 8)),
  );
  let phase: Phase = 'starting';

  // Operations (gateway/http/): /metrics, /healthz, /readyz, /status and the status page, served
  // from the start, so /readyz answers 503 while the spool opens. That side sees the gateway only
  // through readings (below); nothing of it is on the message path.
  const monitor = new StatusMonitor({
    gatewayId: config.gatewayId,
    version: weirVersion(),
    windowSeconds: config.http.statusWindowSeconds,
    read: () =>
      gatewayReading({
        phase,
        source,
        spool,
        spoolSegmentBytes,
        forwarder,
        batcher,
        metrics,
        config,
        registry: framer?.framer ?? null,
      }),
    probeDisk: config.spool.enabled ? () => probeDisk(spoolDirectory(loaded)) : undefined,
    kafkaBrokers: config.kafka.brokers,
    kafkaProblem: () => forwarder.kafkaProblem,
  });
  metrics.gauge(
    'weir_source_backpressure_active',
    '1 while devices are made to wait: the spool is full (whenFull: block) or the memory buffer is.',
    () => (batcher.waitingCount > 0 || (spool?.stats().waitingAppends ?? 0) > 0 ? 1 : 0),
  );
  const httpListener = config.http.enabled
    ? await startHttpListener({
        host: config.http.host,
        port: config.http.port,
        registry: metrics.registry,
        status: () => monitor.status(),
        log: log.child({ stage: 'http' }),
      }).catch((err: unknown) => {
        throw new WeirError(
          'WEIR_HTTP_LISTEN',
          `cannot listen on ${config.http.host}:${config.http.port} for metrics and status (http.port, --http-port)`,
          { cause: err },
        );
      })
    : null;
  monitor.start();
  /** A failed start leaves nothing listening. */
  const abandonStart = async (err: unknown): Promise<never> => {
    monitor.stop();
    framer?.close();
    await pump?.stop();
    forwarder.stop();
    await spool?.close().catch(() => {});
    await sink.close().catch(() => {});
    await httpListener?.close();
    throw err;
  };

  let queue: RecordQueue = new MemoryQueue(batcher);
  if (config.spool.enabled) {
    const spoolLog = log.child({ stage: 'spool' });
    const s = config.spool;
    spool = await DiskSpool.open({
      dir: spoolDirectory(loaded),
      maxBytes: s.maxBytes,
      segmentBytes: spoolSegmentBytes,
      whenFull: s.whenFull,
      fsyncIntervalMs: s.fsyncIntervalMs,
      checkpointIntervalMs: s.checkpointIntervalMs,
      events: {
        damaged(report) {
          metrics.spoolDamage.inc();
          metrics.dropped.inc({ reason: 'spool_damaged' }, report.records);
          spoolLog.error(report, 'spool damage cut off; reading continues after it');
        },
        dropped: (() => {
          const logDrop = rateLimited(10_000, (suppressed) =>
            spoolLog.warn({ policy: s.whenFull, suppressed }, 'spool full: records dropped by policy'),
          );
          return (n: number) => {
            metrics.dropped.inc({ reason: 'spool_full' }, n);
            logDrop();
          };
        })(),
        ioError: (() => {
          let last: { err: Error; during: string } | null = null;
          const logOther = rateLimited(60_000, (suppressed) =>
            spoolLog.error(
              {
                during: last?.during,
                code: (last?.err as NodeJS.ErrnoException | undefined)?.code,
                err: last?.err.message,
                suppressed,
              },
              'spool I/O error; tried again later',
            ),
          );
          return (err: Error, during: string) => {
            metrics.spoolIoErrors.inc();
            // Write failures are logged once per change of state (writeState, below).
            if (during === 'write') return;
            last = { err, during };
            logOther();
          };
        })(),
        writeState: (() => {
          // A full disk fails every write, and may flap while space comes and goes: one line
          // when an episode starts, one when writes have worked for 5 s; failures are counted.
          let episode: { since: number; failures: number } | null = null;
          let settling: NodeJS.Timeout | null = null;
          return (err: Error | null, failures: number) => {
            const dir = spoolDirectory(loaded);
            if (err !== null) {
              if (settling !== null) clearTimeout(settling);
              settling = null;
              if (episode !== null) return;
              episode = { since: Date.now(), failures: 0 };
              void probeDisk(dir).then(({ freeBytes }) =>
                spoolLog.error(
                  { dir, code: (err as NodeJS.ErrnoException).code, freeBytes, err: err.message },
                  'spool writes failing: messages are not acknowledged until the spool can be written',
                ),
              );
              return;
            }
            if (episode === null) return;
            episode.failures += failures;
            if (settling !== null) return;
            settling = setTimeout(() => {
              settling = null;
              const ended = episode!;
              episode = null;
              void probeDisk(dir).then(({ freeBytes }) =>
                spoolLog.info(
                  { dir, failures: ended.failures, failingMs: Date.now() - ended.since, freeBytes },
                  'spool writable again',
                ),
              );
            }, 5000);
            settling.unref();
          };
        })(),
      },
    }).catch(abandonStart);
    const opened = spool.stats();
    spoolLog.info(
      { dir: spool.dir, records: opened.records, bytes: opened.bytes, segments: opened.segments },
      opened.records > 0 ? 'spool opened; replaying records not yet in Kafka' : 'spool opened',
    );
    const sp = spool;
    metrics.gauge('weir_spool_bytes', 'Bytes of spool segment files on disk.', () => sp.stats().bytes);
    metrics.gauge(
      'weir_spool_records',
      'Records in the spool not yet acknowledged by Kafka.',
      () => sp.stats().records,
    );
    metrics.gauge(
      'weir_spool_oldest_record_age_seconds',
      'Age of the oldest record sent to Kafka and not yet acknowledged (0 when none).',
      () => sp.stats().oldestAgeMs / 1000,
    );
    metrics.gauge(
      'weir_spool_max_bytes',
      "The spool's upper bound on disk (spool.maxBytes).",
      () => s.maxBytes,
    );
    metrics.gauge(
      'weir_spool_waiting_appends',
      'Messages waiting for space in a full spool (whenFull: block): devices are being slowed down.',
      () => sp.stats().waitingAppends,
    );
    await checkRegistry().catch(abandonStart);
    queue = new SpoolQueue(spool);
    pump = new SpoolPump({
      spool,
      batcher,
      maxBufferedBytes: spoolReadAheadBytes(config.batch),
      maxBytesPerSec: s.drainMaxBytesPerSec,
    });
    pump.start();
  } else {
    await checkRegistry().catch(abandonStart);
  }

  forwarder.connectInBackground();
  const sourceLog = log.child({ stage: 'source' });
  const logUnauthorized = rateLimited(10_000, (suppressed) =>
    sourceLog.warn(
      { suppressed },
      "publishes refused: a device published into another device's topic (connection closed, counted as unauthorized)",
    ),
  );
  const intake = new RoutingIntake(new Router(routes), queue, deadLetters, metrics, (msg, route) => {
    sourceLog.debug({ route, topic: msg.topic, identity: msg.identity }, 'publish refused');
    logUnauthorized();
  });
  let listenerSpecs: ListenerSpec[] = [];
  let reloadUsers: (() => number) | null = null;
  // Certificates and the users file are read here; a file that went away since the config check
  // fails the start like a port that is taken.
  const broker = await (async () => {
    listenerSpecs = sourceListeners(loaded);
    const setup = sourceSecurity(loaded, sourceLog);
    reloadUsers = setup.reloadUsers;
    return startBroker({
      listeners: listenerSpecs,
      security: setup.security,
      maxPacketBytes: config.mqtt.maxPacketBytes,
      connectTimeoutMs: config.mqtt.connectTimeoutMs,
      limits: config.mqtt.limits,
      intake,
      log: sourceLog,
      metrics,
    });
  })().catch((err: unknown) => {
    if (err instanceof WeirError) return abandonStart(err);
    const failed = listenerSpecs.find((l) => l.transport === (err as { transport?: string }).transport);
    const where = failed === undefined ? '' : ` ${failed.transport} ${failed.host}:${failed.port}`;
    return abandonStart(new WeirError('WEIR_MQTT_LISTEN', `cannot listen on${where}`, { cause: err }));
  });
  source = broker;
  phase = 'running';
  metrics.gauge('weir_source_connected_devices', 'MQTT clients connected.', () => broker.connectedDevices());
  log.info(
    {
      gatewayId: config.gatewayId,
      version: weirVersion(),
      routes: routes.map((r) => `${r.pattern.source} → ${r.kafkaTopic}`),
    },
    'gateway started',
  );

  let stopping: Promise<{ drained: boolean }> | null = null;
  return {
    mqtt: broker.listeners.find((l) => l.transport === 'tcp') ?? broker.listeners[0]!,
    listeners: broker.listeners,
    http: httpListener?.address ?? null,
    metrics,
    spool,
    status: () => monitor.status(),
    reloadUsers: () => reloadUsers?.() ?? null,
    stop() {
      stopping ??= (async () => {
        phase = 'stopping';
        // 1. Stop intake.
        await broker.close();
        // 2. Drain: send everything buffered, within the bound. With the spool, what is not sent
        //    in time stays there, fsync'd, for the next start.
        const timeoutMs = config.shutdown.drainTimeoutMs;
        const drainState = { active: true };
        const drained = await withTimeout(drainedPromise(drainState), timeoutMs);
        drainState.active = false;
        await pump?.stop();
        forwarder.stop();
        framer?.close();
        const left = batcher.abandon(
          new WeirError('WEIR_SHUTDOWN', 'gateway stopped before Kafka acknowledged'),
        );
        if (spool !== null) {
          await spool.close();
          const st = spool.stats();
          if (!drained)
            log.warn(
              { records: st.records, timeoutMs },
              'drain timeout: records left in the spool for the next start',
            );
        } else if (!drained) {
          metrics.dropped.inc({ reason: 'shutdown' }, left.alreadySettled);
          log.warn(
            { records: left.records, qos0Lost: left.alreadySettled, timeoutMs },
            'drain timeout: records not acknowledged by Kafka were given up (QoS 1/2 devices were not acknowledged and will resend)',
          );
        }
        // 3. Close.
        await sink.close().catch((err: unknown) => log.warn({ err }, 'closing the Kafka client failed'));
        monitor.stop();
        await httpListener?.close();
        log.info({ drained }, 'gateway stopped');
        return { drained };
      })();
      return stopping;
    },
  };

  /** Resolves when everything accepted has reached Kafka. */
  async function drainedPromise(state: { active: boolean }): Promise<void> {
    if (spool === null) {
      batcher.flushAll();
      forwarder.kick();
      return batcher.drained();
    }
    while (state.active && !spool.drained) {
      batcher.flushAll();
      forwarder.kick();
      await sleep(20);
    }
  }
}

/**
 * The registry stage: every route's schema and the dead-letter schema, under the subjects the
 * configured strategy names, with ids from the cache file in the spool directory.
 */
async function registryFramer(
  loaded: LoadedConfig,
  routes: readonly CompiledRoute[],
  log: Logger,
  retry: GatewayOptions['registryRetry'],
): Promise<{ framer: RegistryFramer; close(): void }> {
  const section = loaded.config.schemaRegistry!;
  const client = new SchemaRegistryClient({ ...loaded.registry!, logger: log });
  const { cache, problem } = await SchemaIdCache.open(spoolDirectory(loaded), section.cacheFile);
  if (problem !== undefined)
    log.warn({ problem }, 'schema id cache unreadable; ids are asked of the registry again');
  const known = async (file: string, fingerprint: string) => {
    const text = await readFile(file, 'utf8');
    return { file, text, fingerprint, fullName: avroFullName(JSON.parse(text)) };
  };
  const deadLetter = new DeadLetterEncoder(loaded.config.kafka.deadLetterTopic, loaded.config.gatewayId);
  const targets: SchemaTarget[] = [];
  for (const [i, route] of routes.entries()) {
    const file = loaded.schemaPaths[i]!;
    const fingerprint = route.fixedHeaders['avro-schema-fingerprint']!.toString();
    targets.push({
      label: `route ${route.name}`,
      topic: route.kafkaTopic,
      schema: await known(file, fingerprint),
    });
  }
  targets.push({
    label: 'dead letters',
    topic: loaded.config.kafka.deadLetterTopic,
    schema: await known(DEADLETTER_SCHEMA_PATH, deadLetter.fingerprint),
  });
  const framer = new RegistryFramer({
    resolver: new SchemaIdResolver({ client, cache, autoRegister: section.autoRegister, logger: log }),
    cache,
    strategy: section.subjectNameStrategy,
    targets,
    wireFormat: section.wireFormat,
    log,
    ...(retry !== undefined && {
      retryInitialMs: retry.initialMs,
      retryMaxMs: retry.maxMs,
      refusedRetryMs: retry.refusedMs,
    }),
  });
  return {
    framer,
    close() {
      framer.stop();
      client.close();
    },
  };
}

/** One reading of the gateway for the status monitor: cheap, synchronous, no side effects. */
function gatewayReading(g: {
  phase: Phase;
  source: BrokerSource | null;
  spool: DiskSpool | null;
  spoolSegmentBytes: number;
  forwarder: Forwarder;
  batcher: Batcher;
  metrics: Metrics;
  config: LoadedConfig['config'];
  registry: RegistryFramer | null;
}): Reading {
  const { spool, metrics, batcher, config } = g;
  const st = spool?.stats();
  return {
    phase: g.phase,
    mqttListening: g.source !== null && g.phase === 'running',
    kafkaUp: g.forwarder.kafkaConnected,
    kafkaErrorCode: g.forwarder.kafkaErrorCode,
    connectedDevices: g.source?.connectedDevices() ?? 0,
    routes: [...metrics.routes].map(([name, t]) => ({
      name,
      messages: t.messages[0] + t.messages[1] + t.messages[2],
      bytes: t.bytes[0] + t.bytes[1] + t.bytes[2],
    })),
    recordsOut: metrics.kafkaRecords.value,
    deadLetters: { ...metrics.deadLetters.counts },
    dropped: { ...metrics.dropped.counts },
    spool:
      spool === null || st === undefined
        ? null
        : {
            dir: spool.dir,
            bytes: st.bytes,
            maxBytes: config.spool.maxBytes,
            segmentBytes: g.spoolSegmentBytes,
            records: st.records,
            oldestAgeMs: st.oldestAgeMs,
            waitingAppends: st.waitingAppends,
            whenFull: config.spool.whenFull,
          },
    buffer: {
      bytes: batcher.bufferedBytes,
      maxBytes: spool === null ? config.batch.maxBufferedBytes : spoolReadAheadBytes(config.batch),
      waiting: batcher.waitingCount,
    },
    spoolIoErrors: metrics.spoolIoErrors.value,
    registry: g.registry?.state ?? null,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return result;
}
