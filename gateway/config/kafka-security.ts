// Kafka connection security in the config (kafka.sasl, kafka.tls): the secrets are read once when
// the config loads (from files or environment variables, never from the YAML) and kept in a Secret
// that prints as [redacted]. The result, a KafkaSecurity, is what every Kafka client adapter takes;
// each maps it to its own options (gateway/sinks/kafka/security.ts).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { DEFAULT_KAFKA_CLIENT, type KAFKA_CLIENTS, type SASL_MECHANISMS } from './schema.ts';

export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/** SASL mechanisms each client adapter speaks; the config refuses any other combination. */
export const CLIENT_SASL_MECHANISMS: Readonly<Record<KafkaClientName, readonly SaslMechanism[]>> = {
  kafkajs: ['plain', 'scram-sha-256', 'scram-sha-512'],
  platformatic: ['plain', 'scram-sha-256', 'scram-sha-512'],
  rdkafka: ['plain', 'scram-sha-256', 'scram-sha-512'],
};

/** Whether a client can check the brokers' certificates against a name other than their host. */
export const CLIENT_TLS_SERVERNAME: Readonly<Record<KafkaClientName, boolean>> = {
  kafkajs: true,
  platformatic: true,
  // librdkafka checks the broker's certificate against the host it connects to, nothing else.
  rdkafka: false,
};

/** A secret value: prints, inspects and serialises as [redacted]; `reveal()` hands it to a client. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

export interface KafkaSasl {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: Secret;
}

export interface KafkaTls {
  /** PEM of the CA(s) to trust instead of the system's (absent: the system's). */
  readonly ca: string | undefined;
  /** Client certificate and key (mutual TLS), both or neither. */
  readonly cert: string | undefined;
  readonly key: Secret | undefined;
  /** Absolute paths of the same files, for clients that read files themselves (librdkafka). */
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
}

/** What every Kafka adapter takes for the connection's security; null parts are off. */
export interface KafkaSecurity {
  readonly sasl: KafkaSasl | null;
  readonly tls: KafkaTls | null;
}

export const NO_SECURITY: KafkaSecurity = { sasl: null, tls: null };

export interface SecurityProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Reads kafka.sasl and kafka.tls from the raw (not yet validated) kafka section: secrets from
 * files (relative to `baseDir`) or the environment. Every problem is pushed to `problems`
 * (never a secret's value); what is readable is returned so one run reports everything.
 */
export function resolveKafkaSecurity(
  kafka: Record<string, unknown>,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  problems: SecurityProblem[],
  warnings: string[] = [],
): KafkaSecurity {
  const client = (
    typeof kafka['client'] === 'string' ? kafka['client'] : DEFAULT_KAFKA_CLIENT
  ) as KafkaClientName;
  const sasl = asObject(kafka['sasl']);
  if (sasl['mechanism'] === 'plain' && asObject(kafka['tls'])['enabled'] !== true) {
    warnings.push(
      'kafka.sasl.mechanism is plain without kafka.tls: the password crosses the network readable; enable TLS or use SCRAM',
    );
  }
  return {
    sasl: resolveSasl(sasl, kafka['sasl'] !== undefined, client, baseDir, env, problems, warnings),
    tls: resolveTls(asObject(kafka['tls']), client, baseDir, problems, warnings),
  };
}

function resolveSasl(
  sasl: Record<string, unknown>,
  present: boolean,
  client: KafkaClientName,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  problems: SecurityProblem[],
  warnings: string[],
): KafkaSasl | null {
  if (!present) return null;
  const { mechanism, username, passwordFile, passwordEnv } = sasl;
  const supported = CLIENT_SASL_MECHANISMS[client];
  if (typeof mechanism === 'string' && supported !== undefined && !supported.some((m) => m === mechanism)) {
    problems.push({
      path: 'kafka.sasl.mechanism',
      message: `kafka.client '${client}' does not support SASL mechanism '${mechanism}' (it supports: ${supported.join(', ')})`,
    });
  }
  let password: string | undefined;
  if (typeof passwordFile === 'string' && passwordFile !== '') {
    password = readSecretFile(
      path.resolve(baseDir, passwordFile),
      'kafka.sasl.passwordFile',
      problems,
      warnings,
    );
  } else if (typeof passwordEnv === 'string' && passwordEnv !== '' && passwordFile === undefined) {
    const value = env[passwordEnv];
    if (value === undefined) {
      problems.push({
        path: 'kafka.sasl.passwordEnv',
        message: `environment variable ${passwordEnv} is not set`,
      });
    } else if (value === '') {
      problems.push({
        path: 'kafka.sasl.passwordEnv',
        message: `environment variable ${passwordEnv} is empty`,
      });
    } else {
      password = value;
    }
  }
  if (typeof mechanism !== 'string' || typeof username !== 'string' || password === undefined) return null;
  return { mechanism: mechanism as SaslMechanism, username, password: new Secret(password) };
}

function resolveTls(
  tls: Record<string, unknown>,
  client: KafkaClientName,
  baseDir: string,
  problems: SecurityProblem[],
  warnings: string[],
): KafkaTls | null {
  const { enabled, caFile, certFile, keyFile, servername, rejectUnauthorized } = tls;
  const files = { caFile, certFile, keyFile };
  if (enabled !== true) {
    for (const [key, value] of Object.entries({ ...files, servername })) {
      if (value !== undefined) {
        problems.push({
          path: `kafka.tls.${key}`,
          message: 'is set but kafka.tls.enabled is not true: set enabled: true to connect over TLS',
        });
      }
    }
    return null;
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push({
      path: certFile === undefined ? 'kafka.tls.certFile' : 'kafka.tls.keyFile',
      message: 'a client certificate needs both certFile and keyFile',
    });
  }
  if (servername !== undefined && CLIENT_TLS_SERVERNAME[client] === false) {
    problems.push({
      path: 'kafka.tls.servername',
      message: `kafka.client '${client}' cannot check certificates against another name than the broker's host`,
    });
  }
  const read = (key: keyof typeof files, secret: boolean): [string | undefined, string | undefined] => {
    const value = files[key];
    if (typeof value !== 'string' || value === '') return [undefined, undefined];
    const file = path.resolve(baseDir, value);
    const text = secret
      ? readSecretFile(file, `kafka.tls.${key}`, problems, warnings, false)
      : readTextFile(file, `kafka.tls.${key}`, problems);
    return [text, file];
  };
  const [ca, caPath] = read('caFile', false);
  const [cert, certPath] = read('certFile', false);
  const [key, keyPath] = read('keyFile', true);
  for (const [k, text] of [
    ['caFile', ca],
    ['certFile', cert],
  ] as const) {
    if (text !== undefined && !text.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push({
        path: `kafka.tls.${k}`,
        message: 'is not a PEM certificate (no BEGIN CERTIFICATE line)',
      });
    }
  }
  if (rejectUnauthorized === false) {
    warnings.push(
      "kafka.tls.rejectUnauthorized is false: the brokers' certificates are not checked, so the connection can be intercepted",
    );
  }
  if (key !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    problems.push({
      path: 'kafka.tls.keyFile',
      message: 'is not a PEM private key (no BEGIN … PRIVATE KEY line)',
    });
  }
  return {
    ca,
    cert,
    key: key === undefined ? undefined : new Secret(key),
    caFile: caPath,
    certFile: certPath,
    keyFile: keyPath,
    servername: typeof servername === 'string' ? servername : undefined,
    rejectUnauthorized: rejectUnauthorized !== false,
  };
}

function readTextFile(file: string, at: string, problems: SecurityProblem[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({
      path: at,
      message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    });
    return undefined;
  }
}

/**
 * A secret from a file: one trailing newline dropped; empty is a problem; a file every user of
 * the machine may read is a warning.
 */
function readSecretFile(
  file: string,
  at: string,
  problems: SecurityProblem[],
  warnings: string[],
  trim = true,
): string | undefined {
  const text = readTextFile(file, at, problems);
  if (text === undefined) return undefined;
  try {
    if ((statSync(file).mode & 0o004) !== 0) {
      warnings.push(`${at}: ${file} is readable by every user of this machine (chmod 600 or 640 it)`);
    }
  } catch {
    // read a moment ago; nothing to add
  }
  const value = trim ? text.replace(/\r?\n$/, '') : text;
  if (value === '') {
    problems.push({ path: at, message: `${file} is empty` });
    return undefined;
  }
  return value;
}

function asObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
