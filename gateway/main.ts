// The composition root: builds every stage from the config and wires them. Stages know only
// contracts.ts; this is the one file that knows them all. A stage that takes more than a
// constructor to build is built by its own stage.ts (source/, spool/, registry/); the status side
// (http/ops.ts, http/reading.ts) and the steps of stopping (shutdown.ts) see the parts through the
// little they need of them. What a running gateway offers is in gateway.ts.
import { Batcher } from './batcher/batcher.ts';
import { MemoryQueue } from './batcher/memory-queue.ts';
import type { LoadedConfig } from './config/load.ts';
import type { RecordQueue } from './contracts.ts';
import { DeadLetterEncoder } from './deadletter/deadletter.ts';
import { Forwarder } from './forwarder/forwarder.ts';
import type { Gateway, GatewayOptions } from './gateway.ts';
import type { Phase } from './http/assess.ts';
import { probeDisk } from './http/disk.ts';
import { startOps } from './http/ops.ts';
import { gatewayReading } from './http/reading.ts';
import { weirVersion } from './http/version.ts';
import { RoutingIntake } from './intake/intake.ts';
import { compileRoutes } from './intake/routes.ts';
import { createMetrics } from './metrics.ts';
import { HEADER_BYTES } from './registry/framing.ts';
import { Router } from './router/router.ts';
import { abandonStart, shutdown } from './shutdown.ts';
import { createKafkaSink } from './sinks/kafka/create.ts';
import type { BrokerSource } from './source/broker.ts';
import { logUnauthorized, startSource } from './source/stage.ts';
import type { DiskSpool, ReadEntry } from './spool/disk/spool.ts';
import type { SpoolPump } from './spool/pump.ts';
import { SpoolQueue } from './spool/queue.ts';
import {
  openSpool,
  spoolDirectory,
  spoolReadAheadBytes,
  spoolSegmentBytes,
  startSpoolPump,
} from './spool/stage.ts';

export type { Gateway, GatewayOptions } from './gateway.ts';

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

  const framing = config.schemaRegistry?.wireFormat === 'confluent';
  const batcher = new Batcher({ ...config.batch, framingBytesPerRecord: framing ? HEADER_BYTES : 0 });
  metrics.gauge(
    'weir_batcher_buffered_bytes',
    'Record bytes held between intake and Kafka.',
    () => batcher.bufferedBytes,
  );
  // The schema registry (absent: values are plain Avro). Its id cache lives in the spool
  // directory; it is written only after the spool's lock is held (checkAtStart, below). Its code
  // is loaded only when it is configured, like the Kafka client's: memory on an edge box is spent
  // on what the config uses.
  const registry =
    config.schemaRegistry === undefined || loaded.registry === null
      ? null
      : await (await import('./registry/stage.ts')).openRegistryStage({
          loaded,
          dir: spoolDirectory(loaded),
          routes,
          deadLetters,
          metrics,
          log: log.child({ stage: 'registry' }),
          ...(opts.registryRetry && { retry: opts.registryRetry }),
        });
  const forwarder = new Forwarder({
    batcher,
    sink,
    ...(registry !== null && framing && { framer: registry.framer }),
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
  if (registry !== null && framing) registry.framer.onReady = () => forwarder.sendSoon();

  let phase: Phase = 'starting';
  let source: BrokerSource | null = null;
  let spool: DiskSpool | null = null;
  let pump: SpoolPump<ReadEntry> | null = null;
  metrics.gauge(
    'weir_source_backpressure_active',
    '1 while devices are made to wait: the spool is full (whenFull: block) or the memory buffer is.',
    () => (batcher.waitingCount > 0 || (spool?.stats().waitingAppends ?? 0) > 0 ? 1 : 0),
  );
  const ops = await startOps({
    config,
    metrics,
    log: log.child({ stage: 'http' }),
    read: () =>
      gatewayReading({
        phase,
        source,
        spool,
        forwarder,
        batcher,
        metrics,
        config,
        spoolSegmentBytes: spoolSegmentBytes(config.spool),
        spoolReadAheadBytes: spoolReadAheadBytes(config.batch),
        registry: registry?.framer ?? null,
      }),
    probeDisk: config.spool.enabled ? () => probeDisk(spoolDirectory(loaded)) : undefined,
    kafkaProblem: () => forwarder.kafkaProblem,
  });
  // What has started so far: a failed start stops it, and so does stop() (shutdown.ts).
  const running = () => ({ log, metrics, sink, batcher, forwarder, registry, spool, pump, ops });
  const fail = (err: unknown) => abandonStart(running(), err);

  if (config.spool.enabled)
    spool = await openSpool({ loaded, metrics, log: log.child({ stage: 'spool' }), probeDisk }).catch(fail);
  await registry?.checkAtStart().catch(fail);
  const queue: RecordQueue = spool === null ? new MemoryQueue(batcher) : new SpoolQueue(spool);
  if (spool !== null) pump = startSpoolPump(spool, batcher, config);
  forwarder.connectInBackground();

  const sourceLog = log.child({ stage: 'source' });
  const intake = new RoutingIntake(
    new Router(routes),
    queue,
    deadLetters,
    metrics,
    logUnauthorized(sourceLog),
  );
  const { broker, reloadUsers } = await startSource(loaded, intake, metrics, sourceLog).catch(fail);
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
    http: ops.listener?.address ?? null,
    metrics,
    spool,
    status: () => ops.monitor.status(),
    reloadUsers: () => reloadUsers?.() ?? null,
    stop() {
      if (stopping === null) {
        phase = 'stopping';
        stopping = shutdown({ ...running(), source: broker, drainTimeoutMs: config.shutdown.drainTimeoutMs });
      }
      return stopping;
    },
  };
}
