// The gateway config of a benchmark run: one route (factory-line telemetry, what the raw
// publisher sends) to a topic of its own, free ports for MQTT and the metrics listener, the spool
// in the run's directory, and the per-connection publish limit an operator would set for the
// load (publishRatePerConnection). Everything else at the defaults users get.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { REPO_DIR } from './procs.ts';

export const FACTORY_SCHEMA = path.join(REPO_DIR, 'schemas/factory-line.avsc');

export function writeGatewayConfig(o: {
  dir: string;
  name: string;
  brokers: readonly string[];
  client: string;
  topic: string;
  spool: boolean;
  /** mqtt.limits.publishRate.ratePerSecond; see publishRatePerConnection. */
  ratePerConnection: number;
}): string {
  const config = {
    gatewayId: 'weir-bench',
    // Loopback only, and the load generator has no logins: what is measured is the pipeline.
    mqtt: { host: '127.0.0.1', port: 0, limits: { publishRate: { ratePerSecond: o.ratePerConnection } } },
    auth: 'none',
    kafka: {
      brokers: o.brokers,
      client: o.client,
      deadLetterTopic: `${o.topic}.deadletter`,
      createTopics: { enabled: true, partitions: 1, replicationFactor: 1 },
    },
    spool: { enabled: o.spool, dir: path.join(o.dir, `spool-${o.name}`) },
    routes: [
      {
        name: 'factory-line',
        mqttTopic: 'factory/{plant}/{line}/{machineId}/telemetry',
        kafkaTopic: o.topic,
        schema: FACTORY_SCHEMA,
        key: 'machineId',
      },
    ],
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
  };
  const file = path.join(o.dir, `weir-${o.name}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

/** The default per-connection publish limit (mqtt.limits.publishRate.ratePerSecond). */
export const DEFAULT_RATE_PER_CONNECTION = 1000;

/**
 * The per-connection publish limit for a load of `connections` connections offering at most
 * `maxRate` msg/s in all (0: a closed loop, as fast as the gateway acknowledges — no limit).
 * The default, 1,000 msg/s, holds 20 connections to 20,000 msg/s; an operator whose devices
 * each publish more raises it, here to 1.5 × the highest rate of one connection (room for the
 * publisher's pacing, which catches up on up to 50 ms at once), never below the default.
 */
export function publishRatePerConnection(maxRate: number, connections: number): number {
  if (maxRate === 0) return 0;
  return Math.max(DEFAULT_RATE_PER_CONNECTION, Math.ceil((1.5 * maxRate) / connections));
}
