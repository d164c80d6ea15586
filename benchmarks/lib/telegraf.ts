// Telegraf for the peer case, built from the Go module proxy with only the plugins it needs
// (custom build tags: inputs.mqtt_consumer, outputs.kafka, the JSON parser and serializer), once,
// into $XDG_CACHE_HOME/weir/telegraf-VERSION (or ~/.cache/...); later runs find it there.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import process from 'node:process';

export const TELEGRAF_VERSION = '1.37.2';
const MODULE = 'github.com/influxdata/telegraf/cmd/telegraf';
const BUILD_TAGS = 'custom,inputs.mqtt_consumer,outputs.kafka,parsers.json,serializers.json';

function goBinary(): string | null {
  for (const p of ['go', '/usr/local/go/bin/go', '/usr/lib/go/bin/go']) {
    if (spawnSync(p, ['version']).error === undefined) return p;
  }
  return null;
}

/** The Telegraf binary, built first when it is not in the cache; null (with the reason) when it cannot be. */
export function ensureTelegraf(say: (line: string) => void): { bin: string } | { error: string } {
  const cache = process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache');
  const dir = path.join(cache, 'weir', `telegraf-${TELEGRAF_VERSION}`);
  const bin = path.join(dir, 'telegraf');
  if (existsSync(bin)) return { bin };
  const go = goBinary();
  if (go === null) return { error: 'Go is not installed (needed to build Telegraf from the module proxy)' };
  say(`building Telegraf ${TELEGRAF_VERSION} (${BUILD_TAGS}) into ${dir}; a few minutes, once`);
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync(go, ['install', '-tags', BUILD_TAGS, `${MODULE}@v${TELEGRAF_VERSION}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, GOBIN: dir, GOFLAGS: '-mod=mod' },
    });
  } catch (err) {
    return { error: `go install of Telegraf failed: ${(err as Error).message.slice(0, 300)}` };
  }
  return existsSync(bin) ? { bin } : { error: `go install did not leave ${bin}` };
}

/** What the peer's Telegraf is set to; recorded with the results. */
export interface TelegrafSettings {
  /** Messages taken from MQTT and not yet written to Kafka, at most (then it stops reading). */
  readonly maxUndeliveredMessages: number;
  readonly metricBatchSize: number;
  readonly metricBufferLimit: number;
  readonly flushIntervalMs: number;
}

/**
 * A Telegraf config: mqtt_consumer (QoS 1, persistent session with a fixed client id, so a
 * message is acknowledged to mosquitto only once Kafka has it) parsing the JSON payload, the
 * machine id from the topic as a tag and the Kafka key; the Kafka output with acks from all
 * in-sync replicas, writing each metric as JSON (Telegraf has no Avro serializer).
 */
export function writeTelegrafConfig(o: {
  file: string;
  mqttPort: number;
  brokers: readonly string[];
  topic: string;
  settings: TelegrafSettings;
}): void {
  const s = o.settings;
  const q = (x: string) => JSON.stringify(x);
  writeFileSync(
    o.file,
    `[agent]
  interval = "10s"
  flush_interval = "${s.flushIntervalMs}ms"
  flush_jitter = "0s"
  metric_batch_size = ${s.metricBatchSize}
  metric_buffer_limit = ${s.metricBufferLimit}
  omit_hostname = true
  skip_processors_after_aggregators = false

[[inputs.mqtt_consumer]]
  servers = [${q(`tcp://127.0.0.1:${o.mqttPort}`)}]
  topics = ["factory/#"]
  qos = 1
  persistent_session = true
  client_id = "weir-bench-telegraf"
  max_undelivered_messages = ${s.maxUndeliveredMessages}
  data_format = "json"
  # The parser keeps numbers; strings only when named.
  json_string_fields = ["state"]
  topic_tag = ""
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "factory/+/+/+/telemetry"
    tags = "_/plant/line/machineId/_"

[[outputs.kafka]]
  brokers = [${o.brokers.map(q).join(', ')}]
  topic = ${q(o.topic)}
  required_acks = -1
  routing_tag = "machineId"
  data_format = "json"
`,
  );
}
