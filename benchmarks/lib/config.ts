// The gateway config of a benchmark run: one route (factory-line telemetry, what the raw
// publisher sends) to a topic of its own, free ports for MQTT and the metrics listener, the spool
// in the run's directory. Everything else at the defaults users get.
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
}): string {
  const config = {
    gatewayId: 'weir-bench',
    // Loopback only, and the load generator has no logins: what is measured is the pipeline. Its
    // connections publish far faster than a device may by default (mqtt.limits.publishRate).
    mqtt: { host: '127.0.0.1', port: 0, limits: { publishRate: { ratePerSecond: 0 } } },
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
