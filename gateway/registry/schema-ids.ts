// Schema ids for the forwarder: the id of a (subject, schema) pair from the on-disk cache when it
// is known, else from the registry, then cached. This is what lets a gateway without an uplink
// keep accepting and spooling: encoding never needs an id; the id is attached at forward time,
// and a record spooled before its id was known gets it then.
//
// Asking the registry: a lookup first (a schema the subject already has keeps its id, whatever
// the compatibility rule says of it now); otherwise, with autoRegister, the subject's
// compatibility verdict against its latest version (refused: WEIR_REGISTRY_INCOMPATIBLE with the
// registry's reasons), then registration. Without autoRegister a schema the subject lacks is
// WEIR_REGISTRY_NOT_FOUND.
//
// Contract: resolve() throws the client's RegistryError; retriable: true means "the registry is
// out of reach, keep the record and try later", retriable: false means the schema or the setup is
// wrong (incompatible, unauthorized, not registered with autoRegister off) — retrying will not help
// until someone acts. Concurrent calls for the same pair share one request.
import type { Logger } from 'pino';
import type { SchemaRegistryClient } from './client.ts';
import { RegistryError } from './client.ts';
import type { SchemaIdCache } from './id-cache.ts';

export interface RegistrySchema {
  /** SHA-256 of the schema's canonical form, hex (LoadedSchema.fingerprint). */
  readonly fingerprint: string;
  /** The schema as sent to the registry: its JSON text or the parsed object. */
  readonly schema: string | object;
}

export class SchemaIdResolver {
  readonly #client: SchemaRegistryClient;
  readonly #cache: SchemaIdCache;
  readonly #autoRegister: boolean;
  readonly #log: Logger | undefined;
  readonly #inflight = new Map<string, Promise<number>>();

  constructor(opts: {
    client: SchemaRegistryClient;
    cache: SchemaIdCache;
    autoRegister?: boolean;
    logger?: Logger;
  }) {
    this.#client = opts.client;
    this.#cache = opts.cache;
    this.#autoRegister = opts.autoRegister ?? true;
    this.#log = opts.logger;
  }

  /** The cached id, without asking the registry; undefined when not known yet. */
  cached(subject: string, fingerprint: string): number | undefined {
    return this.#cache.get(subject, fingerprint);
  }

  /**
   * The id of `schema` under `subject`: cached, else asked of the registry and cached. With
   * `refresh` the registry is asked even when the id is cached (start-up: a registry that was
   * rebuilt may have given the schema another id; the cache follows it).
   */
  resolve(subject: string, schema: RegistrySchema, opts: { refresh?: boolean } = {}): Promise<number> {
    const hit = this.#cache.get(subject, schema.fingerprint);
    if (hit !== undefined && opts.refresh !== true) return Promise.resolve(hit);
    const key = `${subject}\u0000${schema.fingerprint}`;
    let p = this.#inflight.get(key);
    if (p === undefined) {
      p = this.#fetch(subject, schema).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async #fetch(subject: string, schema: RegistrySchema): Promise<number> {
    let id = await this.#client.lookup(subject, schema.schema);
    if (id === null && !this.#autoRegister) {
      throw new RegistryError(
        'WEIR_REGISTRY_NOT_FOUND',
        `the schema (fingerprint ${schema.fingerprint.slice(0, 16)}…) is not registered under ${subject}, and schemaRegistry.autoRegister is false`,
      );
    }
    if (id === null) {
      const verdict = await this.#client.checkCompatibility(subject, schema.schema);
      if (!verdict.compatible && verdict.messages.length > 0) throw incompatible(verdict.messages);
      try {
        // Registering is refused (409) when incompatible; some registries (Apicurio) give their
        // reasons only then, not with the verdict.
        id = await this.#client.register(subject, schema.schema);
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'WEIR_REGISTRY_INCOMPATIBLE')
          throw incompatible([err.detail ?? 'no reason given'], err);
        throw err;
      }
      if (!verdict.compatible) {
        this.#log?.warn({ subject, id }, 'the registry took a schema its compatibility verdict had refused');
      }
    }
    const previous = this.#cache.get(subject, schema.fingerprint);
    if (previous !== undefined && previous !== id) {
      this.#log?.warn(
        { subject, cachedId: previous, id },
        'the registry has another id for a cached schema (was it rebuilt?); using its id from now on',
      );
    }
    try {
      await this.#cache.set(subject, schema.fingerprint, id);
    } catch (err) {
      // The id is right; only a restart without an uplink would miss it. Not a reason to fail.
      this.#log?.warn({ err, file: this.#cache.file, subject }, 'cannot write the schema id cache');
    }
    this.#log?.info({ subject, id, fingerprint: schema.fingerprint }, 'schema id learnt from the registry');
    return id;
  }
}

function incompatible(reasons: readonly string[], cause?: unknown): RegistryError {
  return new RegistryError(
    'WEIR_REGISTRY_INCOMPATIBLE',
    `incompatible with the latest version under the subject's compatibility rule: ${reasons.join('; ')}`,
    { status: 409, detail: reasons.join('; '), cause },
  );
}
