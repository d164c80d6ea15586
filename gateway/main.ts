// The composition root: builds every stage from the config and wires them. Stages know only
// contracts.ts; this is the one file that knows them all.
import type { Logger } from 'pino';
import { Batcher } from './batcher/batcher.ts';
import { loadSchema, RecordDecoder } from './codec/avro.ts';
import type { LoadedConfig } from './config/load.ts';
import type { Sink } from './contracts.ts';
import { DeadLetterEncoder } from './deadletter/deadletter.ts';
import { WeirError } from './errors.ts';
import { Forwarder } from './forwarder/forwarder.ts';
import { type CompiledRoute, RoutingIntake } from './intake/intake.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { parsePattern } from './router/pattern.ts';
import { Router } from './router/router.ts';
import { KafkajsSink } from './sinks/kafka/kafkajs.ts';
import { type BrokerSource, startBroker } from './source/broker.ts';

export interface GatewayOptions {
  readonly log: Logger;
  /** Replaces the Kafka sink (benchmarks use the blackhole sink). */
  readonly sink?: Sink;
  /** Backoff bounds of the forwarder; tests shorten them. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export interface Gateway {
  readonly mqtt: { readonly host: string; readonly port: number };
  readonly metrics: Metrics;
  /** Stops intake, drains buffered records to Kafka within the drain timeout, closes Kafka. */
  stop(): Promise<{ drained: boolean }>;
}

export function compileRoutes(loaded: LoadedConfig): CompiledRoute[] {
  const { config, schemaPaths } = loaded;
  return config.routes.map((route, i) => {
    const parsed = parsePattern(route.mqttTopic);
    if ('problems' in parsed) throw new WeirError('WEIR_CONFIG_INVALID', parsed.problems.join('; '));
    const pattern = parsed.pattern;
    const keySegment = route.key ?? pattern.names[pattern.names.length - 1]!;
    const schema = loadSchema(schemaPaths[i]!);
    return {
      name: route.name,
      pattern,
      kafkaTopic: route.kafkaTopic,
      keySegment,
      decoder: new RecordDecoder({ schema, segmentNames: pattern.names, keySegment }),
      fixedHeaders: {
        'weir-gateway-id': Buffer.from(config.gatewayId),
        'avro-schema-fingerprint': Buffer.from(schema.fingerprint),
      },
    };
  });
}

export async function startGateway(loaded: LoadedConfig, opts: GatewayOptions): Promise<Gateway> {
  const { config } = loaded;
  const { log } = opts;
  const metrics = createMetrics();
  const routes = compileRoutes(loaded);
  const deadLetters = new DeadLetterEncoder(config.kafka.deadLetterTopic, config.gatewayId);

  const sink =
    opts.sink ??
    new KafkajsSink({
      ...config.kafka,
      createTopics: config.kafka.createTopics.enabled
        ? [...new Set([...routes.map((r) => r.kafkaTopic), config.kafka.deadLetterTopic])]
        : [],
      partitions: config.kafka.createTopics.partitions,
      replicationFactor: config.kafka.createTopics.replicationFactor,
      log: log.child({ stage: 'sink' }),
    });

  const batcher = new Batcher(config.batch);
  metrics.gauge(
    'weir_batcher_buffered_bytes',
    'Record bytes held between intake and Kafka.',
    () => batcher.bufferedBytes,
  );
  const forwarder = new Forwarder({
    batcher,
    sink,
    deadLetterTopic: config.kafka.deadLetterTopic,
    toDeadLetter: (topic, record, reason) =>
      deadLetters.encode({
        reason: 'kafka_rejected',
        detail: `Kafka refused the record for topic ${topic}: ${reason}`,
        mqttTopic: record.headers['mqtt-topic']?.toString() ?? '',
        clientId: record.key?.toString() ?? '',
        qos: 1,
        route: null,
        payload: record.value,
        receivedAt: record.timestamp,
      }),
    log: log.child({ stage: 'forwarder' }),
    metrics,
    ...(opts.backoff && { initialBackoffMs: opts.backoff.initialMs, maxBackoffMs: opts.backoff.maxMs }),
  });

  const intake = new RoutingIntake(new Router(routes), batcher, deadLetters, metrics);
  let source: BrokerSource;
  try {
    source = await startBroker({
      ...config.mqtt,
      intake,
      log: log.child({ stage: 'source' }),
      metrics,
    });
  } catch (err) {
    throw new WeirError('WEIR_MQTT_LISTEN', `cannot listen on ${config.mqtt.host}:${config.mqtt.port}`, {
      cause: err,
    });
  }
  metrics.gauge('weir_source_connected_devices', 'MQTT clients connected.', () => source.connectedDevices());
  log.info({ routes: routes.map((r) => `${r.pattern.source} → ${r.kafkaTopic}`) }, 'gateway started');

  let stopping: Promise<{ drained: boolean }> | null = null;
  return {
    mqtt: source.address,
    metrics,
    stop() {
      stopping ??= (async () => {
        // 1. Stop intake.
        await source.close();
        // 2. Drain: send everything buffered, within the bound.
        batcher.flushAll();
        forwarder.kick();
        const timeoutMs = config.shutdown.drainTimeoutMs;
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          batcher.drained().then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        forwarder.stop();
        if (!drained) {
          const lost = batcher.abandon(
            new WeirError('WEIR_SHUTDOWN', 'gateway stopped before Kafka acknowledged'),
          );
          metrics.dropped.inc({ reason: 'shutdown' }, lost.alreadySettled);
          log.warn(
            { records: lost.records, qos0Lost: lost.alreadySettled, timeoutMs },
            'drain timeout: records not acknowledged by Kafka were given up (QoS 1/2 devices were not acknowledged and will resend)',
          );
        }
        // 3. Close.
        await sink.close().catch((err: unknown) => log.warn({ err }, 'closing the Kafka client failed'));
        log.info({ drained }, 'gateway stopped');
        return { drained };
      })();
      return stopping;
    },
  };
}
