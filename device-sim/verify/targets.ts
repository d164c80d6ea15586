// Where each fleet's records are: the Kafka topic and the schema. From a gateway config (each
// device's MQTT topic is routed exactly as the gateway routes it), from --topic flags, or the
// sample config's defaults.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KafkaSecurity, NO_SECURITY } from '../../gateway/config/kafka-security.ts';
import { loadConfigFile } from '../../gateway/config/load.ts';
import { parsePattern, type TopicPattern } from '../../gateway/router/pattern.ts';
import { Router } from '../../gateway/router/router.ts';
import type { FleetName } from '../fleets/fleet.ts';
import { FLEETS } from '../fleets/index.ts';
import { DEFAULT_CENTER } from '../options.ts';
import { Random } from '../random.ts';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
export const DEFAULT_DEADLETTER_TOPIC = 'weir.deadletter';

/** The report's devices cannot be mapped to topics (no route matches, or several do). */
export class TargetError extends Error {
  readonly code = 'WEIR_VERIFY_NO_TARGET';
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export interface FleetTarget {
  readonly fleet: FleetName;
  readonly topic: string;
  readonly schemaPath: string;
}

export interface Targets {
  readonly fleets: readonly FleetTarget[];
  readonly deadLetterTopic: string;
  /** Brokers named by the config, if one was given. */
  readonly configBrokers: readonly string[] | null;
  /** kafka.sasl / kafka.tls of the config, with their secrets; none without a config. */
  readonly configSecurity: KafkaSecurity;
}

export interface TargetOptions {
  readonly configPath?: string | undefined;
  readonly topics?: Readonly<Partial<Record<FleetName, string>>>;
  readonly deadLetterTopic?: string | undefined;
}

export interface RoutedDevice {
  readonly fleet: FleetName;
  readonly topic: string;
}

/** A device of each fleet, for resolving targets without a report. */
export function sampleDevices(): RoutedDevice[] {
  return Object.values(FLEETS).map((f) => ({
    fleet: f.name,
    topic: f.create({
      deviceId: 'sample',
      rng: Random.derive(0),
      center: DEFAULT_CENTER,
      startMs: 0,
      stepS: 1,
    }).topic,
  }));
}

/** Resolves the targets of the fleets the devices belong to; throws with every problem listed. */
export function resolveTargets(devices: readonly RoutedDevice[], opts: TargetOptions): Targets {
  const present = [...new Set(devices.map((d) => d.fleet))];
  const problems: string[] = [];
  let fromConfig: Map<FleetName, FleetTarget> | null = null;
  let deadLetterTopic = opts.deadLetterTopic;
  let configBrokers: string[] | null = null;
  let configSecurity: KafkaSecurity = NO_SECURITY;
  if (opts.configPath !== undefined) {
    const loaded = loadConfigFile(opts.configPath);
    configBrokers = [...loaded.config.kafka.brokers];
    configSecurity = loaded.kafkaSecurity;
    deadLetterTopic ??= loaded.config.kafka.deadLetterTopic;
    const routes = loaded.config.routes.map((r, i) => {
      const parsed = parsePattern(r.mqttTopic) as { pattern: TopicPattern };
      return {
        pattern: parsed.pattern,
        kafkaTopic: r.kafkaTopic,
        schemaPath: loaded.schemaPaths[i]!,
        name: r.name,
      };
    });
    const router = new Router(routes);
    fromConfig = new Map();
    for (const fleet of present) {
      const seen = new Set<string>();
      for (const d of devices) {
        if (d.fleet !== fleet) continue;
        const match = router.match(d.topic);
        if (match === null) {
          problems.push(`no route of ${opts.configPath} matches ${d.topic} (fleet ${fleet})`);
          break;
        }
        seen.add(match.route.kafkaTopic);
        fromConfig.set(fleet, { fleet, topic: match.route.kafkaTopic, schemaPath: match.route.schemaPath });
      }
      if (seen.size > 1)
        problems.push(`devices of ${fleet} are routed to several topics (${[...seen].join(', ')})`);
    }
  }
  const fleets = present.map((fleet): FleetTarget => {
    const given = opts.topics?.[fleet];
    const configured = fromConfig?.get(fleet);
    const schemaPath = configured?.schemaPath ?? path.join(SCHEMAS_DIR, FLEETS[fleet].schemaFile);
    return { fleet, topic: given ?? configured?.topic ?? FLEETS[fleet].defaultKafkaTopic, schemaPath };
  });
  if (problems.length > 0) throw new TargetError(problems.join('; '));
  return {
    fleets,
    deadLetterTopic: deadLetterTopic ?? DEFAULT_DEADLETTER_TOPIC,
    configBrokers,
    configSecurity,
  };
}
