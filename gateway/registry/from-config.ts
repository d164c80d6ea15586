// Builds a registry client from the `schemaRegistry` config section: reads the password or token
// from its file or environment variable and the CA file, relative to the config file's directory.
// Problems are WEIR_REGISTRY_CONFIG errors naming the key, never the secret.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import type { Logger } from 'pino';
import type { SchemaRegistryConfig } from '../config/schema-registry.ts';
import { WeirError } from '../errors.ts';
import { type RegistryAuth, type RegistryClientOptions, SchemaRegistryClient } from './client.ts';

export interface FromConfigOptions {
  /** Directory of the config file: relative file names are resolved against it. */
  readonly baseDir: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
}

export function registryClientOptions(
  section: NonNullable<SchemaRegistryConfig>,
  opts: FromConfigOptions,
): RegistryClientOptions {
  const env = opts.env ?? process.env;
  let auth: RegistryAuth | undefined;
  const a = section.auth;
  if (a !== undefined && 'basic' in a) {
    const password = secret(
      a.basic.passwordFile,
      a.basic.passwordEnv,
      'schemaRegistry.auth.basic.password',
      opts.baseDir,
      env,
    );
    auth = { type: 'basic', username: a.basic.username, password };
  } else if (a !== undefined && 'bearer' in a) {
    const token = secret(
      a.bearer.tokenFile,
      a.bearer.tokenEnv,
      'schemaRegistry.auth.bearer.token',
      opts.baseDir,
      env,
    );
    auth = { type: 'bearer', token };
  }
  let ca: Buffer | undefined;
  if (section.tls.caFile !== undefined) {
    ca = readOrThrow(path.resolve(opts.baseDir, section.tls.caFile), 'schemaRegistry.tls.caFile');
  }
  return {
    urls: section.urls,
    ...(auth !== undefined && { auth }),
    tls: { ...(ca !== undefined && { ca }), rejectUnauthorized: section.tls.rejectUnauthorized },
    requestTimeoutMs: section.requestTimeoutMs,
    ...(opts.logger !== undefined && { logger: opts.logger }),
  };
}

export function createRegistryClient(
  section: NonNullable<SchemaRegistryConfig>,
  opts: FromConfigOptions,
): SchemaRegistryClient {
  return new SchemaRegistryClient(registryClientOptions(section, opts));
}

function secret(
  file: string | undefined,
  envName: string | undefined,
  key: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
): string {
  let value: string | undefined;
  let from: string;
  if (file !== undefined) {
    from = `${key}File`;
    value = readOrThrow(path.resolve(baseDir, file), from)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  } else if (envName !== undefined) {
    from = `${key}Env`;
    value = env[envName];
    if (value === undefined)
      throw new WeirError('WEIR_REGISTRY_CONFIG', `${from}: environment variable ${envName} is not set`);
  } else {
    throw new WeirError('WEIR_REGISTRY_CONFIG', `${key}: give ${key}File or ${key}Env`);
  }
  if (value === '')
    throw new WeirError('WEIR_REGISTRY_CONFIG', `${from}: the ${key.split('.').at(-1)} is empty`);
  return value;
}

function readOrThrow(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code;
    throw new WeirError('WEIR_REGISTRY_CONFIG', `${key}: cannot read ${file}: ${why}`, { cause });
  }
}
