// Options every case shares. `--quick` shortens every duration and step list so the whole suite
// runs in a few minutes (for a smoke run; the figures are then rough). `--pi` runs the servers
// under test in the Pi-class profile (lib/profile.ts), `--pi-memory-mb` sets its memory cap.
import { createRequire } from 'node:module';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { KAFKA_CLIENTS } from '../../gateway/config/schema.ts';
import { setProfile } from './profile.ts';

export const COMMON_OPTIONS = {
  quick: { type: 'boolean', default: false },
  'kafka-dir': { type: 'string' },
  'kafka-brokers': { type: 'string' },
  connections: { type: 'string' },
  window: { type: 'string' },
  clients: { type: 'string' },
  pi: { type: 'boolean', default: false },
  'pi-memory-mb': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export function parseCaseArgs<T extends NonNullable<ParseArgsConfig['options']>>(extra: T) {
  const { values } = parseArgs({ options: { ...COMMON_OPTIONS, ...extra }, strict: true });
  const common = values as { pi?: boolean; 'pi-memory-mb'?: string };
  const memory = common['pi-memory-mb'];
  setProfile({ pi: common.pi === true, ...(memory !== undefined && { memoryMb: num(memory, 0) }) });
  return values;
}

/** Where the Kafka comes from: flags, else the environment run-all.ts (or a test) sets. */
export function kafkaSource(values: { 'kafka-dir'?: string; 'kafka-brokers'?: string }): {
  dir?: string;
  brokers?: string;
} {
  const dir = values['kafka-dir'] ?? process.env['WEIR_BENCH_KAFKA_DIR'];
  const brokers = values['kafka-brokers'] ?? process.env['WEIR_BENCH_KAFKA_BROKERS'];
  return { ...(dir && { dir }), ...(brokers && { brokers }) };
}

/** The npm packages that may be behind each client adapter, to tell whether it is installed. */
const CLIENT_PACKAGES: Record<string, readonly string[]> = {
  kafkajs: ['kafkajs'],
  platformatic: ['@platformatic/kafka'],
  rdkafka: ['node-rdkafka', '@confluentinc/kafka-javascript'],
};

/**
 * The Kafka clients to measure: --clients a,b, else every adapter the config accepts
 * (kafka.client) whose library is installed (an adapter of an unknown library is tried).
 */
export function kafkaClients(given: string | undefined): string[] {
  if (given !== undefined) return given.split(',').map((c) => c.trim());
  const require = createRequire(import.meta.url);
  return KAFKA_CLIENTS.filter((c) => {
    const pkgs = CLIENT_PACKAGES[c];
    if (pkgs === undefined) return true;
    return pkgs.some((pkg) => {
      try {
        require.resolve(pkg);
        return true;
      } catch {
        return false;
      }
    });
  });
}

export function num(text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`expected a number, not '${text}'`);
  return n;
}
