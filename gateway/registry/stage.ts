// The registry stage built from the config: a framer for every schema weir writes (each route's
// and the dead-letter schema) under the subjects the configured strategy names, with ids from
// the cache file in the spool directory, and its gauges. The routes and the dead-letter path are
// seen only through the schema each names, so this stage imports neither.
import { mkdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import type { Metrics } from '../metrics.ts';
import { SchemaRegistryClient } from './client.ts';
import { RegistryFramer, type SchemaTarget } from './framer.ts';
import { SchemaIdCache } from './id-cache.ts';
import { SchemaIdResolver } from './schema-ids.ts';
import { avroFullName } from './subject.ts';

/** A schema weir writes records of. */
export interface SchemaFile {
  /** The .avsc file. */
  readonly file: string;
  /** SHA-256 of its canonical form, hex: the records' `avro-schema-fingerprint` header. */
  readonly fingerprint: string;
}

export interface RegistryStageOptions {
  /** With `schemaRegistry` configured and its client options read (loaded.registry). */
  readonly loaded: LoadedConfig;
  /** The spool directory: the id cache is kept there. */
  readonly dir: string;
  /** The routes (CompiledRoute), in config order. */
  readonly routes: ReadonlyArray<{
    readonly name: string;
    readonly kafkaTopic: string;
    readonly schema: SchemaFile;
  }>;
  /** The dead-letter path (DeadLetterEncoder). */
  readonly deadLetters: { readonly topic: string; readonly schema: SchemaFile };
  readonly metrics: Metrics;
  readonly log: Logger;
  /** How often the registry is asked again (out of reach: backoff; refused: pause). */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number; readonly refusedMs: number };
}

export interface RegistryStage {
  readonly framer: RegistryFramer;
  /**
   * Asks the registry about every schema (framer.checkAtStart: throws when it refuses one),
   * making the spool directory first. Call it once the spool's lock is held: it writes the cache.
   */
  checkAtStart(): Promise<void>;
  close(): void;
}

export async function openRegistryStage(opts: RegistryStageOptions): Promise<RegistryStage> {
  const { loaded, dir, log, metrics, retry } = opts;
  const section = loaded.config.schemaRegistry!;
  const client = new SchemaRegistryClient({ ...loaded.registry!, logger: log });
  const { cache, problem } = await SchemaIdCache.open(dir, section.cacheFile);
  if (problem !== undefined)
    log.warn({ problem }, 'schema id cache unreadable; ids are asked of the registry again');
  const known = async ({ file, fingerprint }: SchemaFile) => {
    const text = await readFile(file, 'utf8');
    return { file, text, fingerprint, fullName: avroFullName(JSON.parse(text)) };
  };
  const targets: SchemaTarget[] = [];
  for (const route of opts.routes)
    targets.push({
      label: `route ${route.name}`,
      topic: route.kafkaTopic,
      schema: await known(route.schema),
    });
  const { deadLetters } = opts;
  targets.push({ label: 'dead letters', topic: deadLetters.topic, schema: await known(deadLetters.schema) });
  const framer = new RegistryFramer({
    resolver: new SchemaIdResolver({ client, cache, autoRegister: section.autoRegister, logger: log }),
    cache,
    strategy: section.subjectNameStrategy,
    targets,
    wireFormat: section.wireFormat,
    log,
    ...(retry !== undefined && {
      retryInitialMs: retry.initialMs,
      retryMaxMs: retry.maxMs,
      refusedRetryMs: retry.refusedMs,
    }),
  });
  metrics.gauge(
    'weir_registry_up',
    "1 while the schema registry answered weir's last request, 0 while it is out of reach (records without a known schema id wait in the spool).",
    () => (framer.state.up ? 1 : 0),
  );
  metrics.gauge(
    'weir_registry_schemas_waiting',
    'Schemas whose registry id weir still needs; records of them wait in the spool.',
    () => framer.state.waiting.length,
  );
  return {
    framer,
    async checkAtStart() {
      await mkdir(dir, { recursive: true });
      await framer.checkAtStart();
    },
    close() {
      framer.stop();
      client.close();
    },
  };
}
