// Security of the connection to Kafka (kafka.sasl, kafka.tls), the same for every client adapter:
// the secrets are read once when the config loads (from files or environment variables, never
// from the YAML), kept in a Secret that prints as [redacted], and mapped here to each client's
// own options. Failures to authenticate or to verify a certificate become WEIR_KAFKA_AUTH and
// WEIR_KAFKA_TLS, so an operator sees "wrong credentials" rather than a generic retry.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { DEFAULT_KAFKA_CLIENT, type KAFKA_CLIENTS, type SASL_MECHANISMS } from '../../config/schema.ts';
import { WeirError } from '../../errors.ts';
import { errorChain } from './errors.ts';

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

// ---------------------------------------------------------------------------------------------
// Per client

/** kafkajs `ssl` and `sasl` options of `new Kafka({...})` (its mechanism names are weir's). */
export function kafkajsSecurity(sec: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (sec.tls !== null) out.ssl = nodeTlsOptions(sec.tls);
  if (sec.sasl !== null) {
    out.sasl = {
      mechanism: sec.sasl.mechanism,
      username: sec.sasl.username,
      password: sec.sasl.password.reveal(),
    } as SASLOptions;
  }
  return out;
}

const PLATFORMATIC_MECHANISM = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

/** @platformatic/kafka `tls` and `sasl` client options; the password is handed over as a provider. */
export function platformaticSecurity(sec: KafkaSecurity): {
  tls?: { ca?: string[]; cert?: string; key?: string; servername?: string; rejectUnauthorized: boolean };
  sasl?: {
    mechanism: (typeof PLATFORMATIC_MECHANISM)[SaslMechanism];
    username: string;
    password: () => string;
  };
} {
  const out: ReturnType<typeof platformaticSecurity> = {};
  if (sec.tls !== null) out.tls = nodeTlsOptions(sec.tls);
  if (sec.sasl !== null) {
    const password = sec.sasl.password;
    out.sasl = {
      mechanism: PLATFORMATIC_MECHANISM[sec.sasl.mechanism],
      username: sec.sasl.username,
      password: () => password.reveal(),
    };
  }
  return out;
}

function nodeTlsOptions(tls: KafkaTls) {
  return {
    ...(tls.ca !== undefined && { ca: [tls.ca] }),
    ...(tls.cert !== undefined && { cert: tls.cert }),
    ...(tls.key !== undefined && { key: tls.key.reveal() }),
    ...(tls.servername !== undefined && { servername: tls.servername }),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

/**
 * librdkafka configuration properties for the same settings (node-rdkafka and
 * @confluentinc/kafka-javascript take them as-is). librdkafka reads the PEM files itself.
 */
export function librdkafkaSecurity(sec: KafkaSecurity): Record<string, string> {
  const { sasl, tls } = sec;
  const out: Record<string, string> = {
    'security.protocol':
      sasl !== null ? (tls !== null ? 'sasl_ssl' : 'sasl_plaintext') : tls !== null ? 'ssl' : 'plaintext',
  };
  if (sasl !== null) {
    out['sasl.mechanisms'] = PLATFORMATIC_MECHANISM[sasl.mechanism];
    out['sasl.username'] = sasl.username;
    out['sasl.password'] = sasl.password.reveal();
  }
  if (tls !== null) {
    if (tls.caFile !== undefined) out['ssl.ca.location'] = tls.caFile;
    if (tls.certFile !== undefined) out['ssl.certificate.location'] = tls.certFile;
    if (tls.keyFile !== undefined) out['ssl.key.location'] = tls.keyFile;
    out['enable.ssl.certificate.verification'] = String(tls.rejectUnauthorized);
    // librdkafka ≥ 2.0 checks the broker's host name by default; without verification it cannot.
    out['ssl.endpoint.identification.algorithm'] = tls.rejectUnauthorized ? 'https' : 'none';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Node/OpenSSL error codes of a certificate that does not verify. */
const TLS_VERIFY_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

const AUTH_ERROR_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

/**
 * WEIR_KAFKA_AUTH when Kafka refused the credentials (or the mechanism), WEIR_KAFKA_TLS when a
 * certificate did not verify; null for anything else. Looks through causes and wrapped errors of
 * either client; the client's error that says so becomes the cause (pino logs its message).
 * Both are retriable: the broker's side may be fixed while weir runs (a user created, a
 * certificate renewed), and until then the records stay in the spool. Weir's own secrets are
 * read at start-up: changing them takes a restart.
 */
export function securityError(err: unknown): WeirError | null {
  if (err instanceof WeirError && (err.code === 'WEIR_KAFKA_AUTH' || err.code === 'WEIR_KAFKA_TLS'))
    return err;
  for (const o of errorChain(err)) {
    if (
      o.name === 'KafkaJSSASLAuthenticationError' ||
      o.code === 'PLT_KFK_AUTHENTICATION' ||
      (typeof o.type === 'string' && AUTH_ERROR_TYPES.has(o.type)) ||
      (typeof o.apiId === 'string' && AUTH_ERROR_TYPES.has(o.apiId))
    ) {
      return new WeirError(
        'WEIR_KAFKA_AUTH',
        'Kafka refused the SASL credentials or mechanism (kafka.sasl)',
        { cause: o, retriable: true },
      );
    }
    if (typeof o.code === 'string' && (TLS_VERIFY_CODES.has(o.code) || o.code.startsWith('ERR_SSL_'))) {
      return new WeirError('WEIR_KAFKA_TLS', `TLS to Kafka failed (kafka.tls): ${o.code}`, {
        cause: o,
        retriable: true,
      });
    }
  }
  return null;
}

function asObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
