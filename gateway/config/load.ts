// Loading the config: YAML → overrides (flags, environment) → schema validation → checks that
// need more than one field (topic patterns, schema files, keys). Every problem is collected with
// its path; nothing starts unless the list is empty.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { parseDocument } from 'yaml';
import { loadSchema } from '../codec/avro.ts';
import { WeirError } from '../errors.ts';
import type { RegistryClientOptions } from '../registry/client.ts';
import { registryClientOptions } from '../registry/from-config.ts';
import { parsePattern } from '../router/pattern.ts';
import { type KafkaSecurity, resolveKafkaSecurity } from './kafka-security.ts';
import { type Config, configSchema } from './schema.ts';
import { checkSecurity } from './security.ts';
import { didYouMean, knownKeys } from './suggest.ts';

export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** Values given on the command line or in the environment; they win over the file. */
export interface ConfigOverrides {
  readonly mqttPort?: string | undefined;
  readonly kafkaBrokers?: string | undefined;
  readonly spoolDir?: string | undefined;
  readonly httpPort?: string | undefined;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Directory relative schema paths are resolved against. */
  readonly baseDir: string;
  /** Absolute schema path per route, in route order. */
  readonly schemaPaths: readonly string[];
  /** kafka.sasl / kafka.tls with their secrets read (files, environment); never logged. */
  readonly kafkaSecurity: KafkaSecurity;
  /** schemaRegistry with its secrets and CA read; null without a registry. Never logged. */
  readonly registry: RegistryClientOptions | null;
  /** Things worth a warning at start-up that do not stop it (e.g. a world-readable secret file). */
  readonly warnings: readonly string[];
}

export class ConfigError extends WeirError {
  readonly problems: readonly ConfigProblem[];
  constructor(source: string, problems: readonly ConfigProblem[]) {
    super('WEIR_CONFIG_INVALID', formatProblems(source, problems));
    this.problems = problems;
  }
}

export function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  const n = problems.length;
  const lines = problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`);
  return `invalid config ${source} (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** Environment variables that override the file (flags override these). */
export function overridesFromEnv(env: NodeJS.ProcessEnv): ConfigOverrides {
  return {
    mqttPort: env.WEIR_MQTT_PORT,
    kafkaBrokers: env.WEIR_KAFKA_BROKERS,
    spoolDir: env.WEIR_SPOOL_DIR,
    httpPort: env.WEIR_HTTP_PORT,
  };
}

export function loadConfigFile(
  file: string,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file: ${(cause as Error).message}` }]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const lines = text.split('\n');
    const problems = doc.errors.map((e) => {
      // The parser's message ends with "at line L, column C:" and a snippet; say it in one line.
      const where = e.linePos?.[0];
      const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      const line = where === undefined ? undefined : lines[where.line - 1];
      const shown =
        line === undefined || line.trim() === '' ? '' : ` (line ${where!.line} reads \`${line.trim()}\`)`;
      return {
        path: where === undefined ? '' : `line ${where.line}, column ${where.col}`,
        message: `YAML syntax: ${what}${shown}`,
      };
    });
    throw new ConfigError(file, problems);
  }
  return parseConfig(doc.toJS(), path.dirname(path.resolve(file)), overrides, file, env);
}

/**
 * Validates a config object; throws a ConfigError listing every problem. Secrets named by the
 * config (kafka.sasl.passwordEnv) are read from `env`.
 */
export function parseConfig(
  raw: unknown,
  baseDir: string,
  overrides: ConfigOverrides = {},
  source = 'config',
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const input = applyOverrides(raw ?? {}, overrides);
  const result = configSchema.safeParse(input);
  const problems: ConfigProblem[] = result.success
    ? []
    : result.error.issues.flatMap((issue): ConfigProblem[] => {
        if (issue.code !== 'unrecognized_keys')
          return [{ path: formatPath(issue.path), message: issue.message }];
        // One problem per unknown key, with the known key it is probably a typo of.
        const known = knownKeys(configSchema, issue.path);
        return issue.keys.map((key) => {
          const guess = didYouMean(key, known);
          return {
            path: formatPath([...issue.path, key]),
            message: `unknown key${guess === null ? '' : ` — did you mean ${formatPath([...issue.path, guess])}?`}`,
          };
        });
      });
  // Checks across fields run on what is there even when the schema found problems, so one run
  // lists everything.
  const schemaPaths = checkRoutes(input, baseDir, problems);
  const warnings: string[] = [];
  const kafkaSecurity = resolveKafkaSecurity(
    asObject(asObject(input)['kafka']),
    baseDir,
    env,
    problems,
    warnings,
  );
  checkSecurity(input, baseDir, problems);
  const registry = result.success ? resolveRegistry(result.data, baseDir, env, problems) : null;
  if (!result.success || problems.length > 0) throw new ConfigError(source, problems);
  return { config: result.data, baseDir, schemaPaths, kafkaSecurity, registry, warnings };
}

/** Reads the registry's secrets and CA now, so a missing file is a config problem, not a crash. */
function resolveRegistry(
  config: Config,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
): RegistryClientOptions | null {
  if (config.schemaRegistry === undefined) return null;
  try {
    return registryClientOptions(config.schemaRegistry, { baseDir, env });
  } catch (err) {
    if (!(err instanceof WeirError)) throw err;
    problems.push({ path: 'schemaRegistry', message: err.message });
    return null;
  }
}

function checkRoutes(input: unknown, baseDir: string, problems: ConfigProblem[]): string[] {
  const root = asObject(input);
  const routes = Array.isArray(root['routes']) ? (root['routes'] as unknown[]) : [];
  const deadLetterTopic = asObject(root['kafka'])['deadLetterTopic'] ?? 'weir.deadletter';
  const schemaPaths: string[] = [];
  const names = new Set<string>();
  routes.forEach((value, i) => {
    const route = asObject(value);
    const at = `routes[${i}]`;
    const { name, mqttTopic, kafkaTopic, schema, key } = route;
    if (typeof name === 'string') {
      if (names.has(name)) problems.push({ path: `${at}.name`, message: `duplicate route name '${name}'` });
      names.add(name);
    }
    if (typeof mqttTopic === 'string') {
      const parsed = parsePattern(mqttTopic);
      if ('problems' in parsed) {
        for (const message of parsed.problems) problems.push({ path: `${at}.mqttTopic`, message });
      } else if (parsed.pattern.names.length === 0) {
        problems.push({
          path: `${at}.mqttTopic`,
          message: 'needs at least one {named} segment to use as the Kafka key',
        });
      } else if (typeof key === 'string' && !parsed.pattern.names.includes(key)) {
        problems.push({
          path: `${at}.key`,
          message: `'${key}' is not a named segment of ${mqttTopic} (named: ${parsed.pattern.names.join(', ')})`,
        });
      }
    }
    if (kafkaTopic !== undefined && kafkaTopic === deadLetterTopic) {
      problems.push({ path: `${at}.kafkaTopic`, message: 'must differ from kafka.deadLetterTopic' });
    }
    if (typeof schema === 'string' && schema !== '') {
      const schemaPath = path.resolve(baseDir, schema);
      schemaPaths.push(schemaPath);
      if (!existsSync(schemaPath)) {
        problems.push({ path: `${at}.schema`, message: `file not found: ${schemaPath}` });
      } else {
        try {
          loadSchema(schemaPath);
        } catch (err) {
          problems.push({ path: `${at}.schema`, message: (err as Error).message });
        }
      }
    }
  });
  return schemaPaths;
}

function asObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function applyOverrides(raw: unknown, o: ConfigOverrides): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out = { ...(raw as Record<string, unknown>) };
  const section = (name: string): Record<string, unknown> => {
    const current = out[name];
    const copy =
      current !== null && typeof current === 'object' && !Array.isArray(current) ? { ...current } : {};
    out[name] = copy;
    return copy;
  };
  const asPort = (v: string) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
  if (o.mqttPort !== undefined) section('mqtt')['port'] = asPort(o.mqttPort);
  if (o.httpPort !== undefined) section('http')['port'] = asPort(o.httpPort);
  if (o.kafkaBrokers !== undefined) {
    section('kafka')['brokers'] = o.kafkaBrokers
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  // A directory given on the command line or in the environment is relative to where weir runs.
  if (o.spoolDir !== undefined) section('spool')['dir'] = path.resolve(o.spoolDir);
  return out;
}

function formatPath(p: readonly PropertyKey[]): string {
  let s = '';
  for (const part of p)
    s += typeof part === 'number' ? `[${part}]` : s === '' ? String(part) : `.${String(part)}`;
  return s;
}
