// The registry stage between batcher and sink: gives every record value the Confluent wire format
// (magic byte 0, the schema id, the Avro body), and makes sure each schema weir writes is one the
// registry accepts — at start-up when the registry answers, else before the first record of that
// schema is sent.
//
// How a record finds its id: its `avro-schema-fingerprint` header (kept in the spool) names the
// schema; the batch's topic and the subject name strategy give the subject; the id cache (a file
// in the spool directory) gives the id. Nothing is re-encoded: framing puts 5 bytes in front of
// the spooled Avro body.
//
// Offline first
// - frame() never waits for the registry. A batch with a record whose id is not known yet is
//   answered `wait`; the id is asked for in the background, retried with a capped backoff while
//   the registry is out of reach, and `onReady` fires once it is known. The batch stays with the
//   forwarder (and its records in the spool): nothing is lost or dead-lettered because the
//   registry is down.
// - A cached id needs no registry at all: a gateway that learnt its ids once starts and delivers
//   without an uplink to the registry.
//
// Final refusals (incompatible schema, credentials refused, schema missing with autoRegister
// off): at start-up weir refuses to start (checkAtStart throws WEIR_REGISTRY_SCHEMA_REFUSED).
// Later — the registry was out of reach at start and refuses once it answers — the records of
// that schema are held, like during an outage, never sent unframed or dead-lettered; /status
// shows schema_refused with the registry's reason; weir asks again every `refusedRetryMs`, so
// fixing the registry (a compatibility rule, a permission, a registered schema) lets them flow
// without a restart. Restarting with a compatible schema does not release them: they were
// written with the refused one.
import type { Logger } from 'pino';
import type { Batch, FrameOutcome, Framer, OutboundRecord } from '../contracts.ts';
import { errorMessage, WeirError } from '../errors.ts';
import { RegistryError } from './client.ts';
import { encodeFramed, HEADER_BYTES } from './framing.ts';
import type { SchemaIdCache } from './id-cache.ts';
import type { SchemaIdResolver } from './schema-ids.ts';
import { type SubjectNameStrategy, subjectName } from './subject.ts';

export const FINGERPRINT_HEADER = 'avro-schema-fingerprint';

/** A schema weir writes: a route's, or the dead-letter schema. */
export interface KnownSchema {
  readonly fingerprint: string;
  /** The .avsc text, as registered. */
  readonly text: string;
  /** The record's full name (for the RecordName strategies). */
  readonly fullName: string;
  readonly file: string;
}

/** Where a schema is written: checked at start-up. */
export interface SchemaTarget {
  /** For messages: `route smart-city`, `dead letters`. */
  readonly label: string;
  readonly topic: string;
  readonly schema: KnownSchema;
}

export interface RegistryFramerOptions {
  readonly resolver: SchemaIdResolver;
  readonly cache: SchemaIdCache;
  readonly strategy: SubjectNameStrategy;
  /** Every schema weir writes records of. */
  readonly targets: readonly SchemaTarget[];
  /** confluent: values are framed; plain: schemas are registered and checked, values left as they are. */
  readonly wireFormat: 'confluent' | 'plain';
  readonly log: Logger;
  /** Backoff while the registry is out of reach (default 500 ms doubling to 5 s). */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Pause before asking again about a schema the registry refused (default 60 s). */
  readonly refusedRetryMs?: number;
}

export interface RegistryState {
  /** The registry answered the last request weir made (true before any). */
  readonly up: boolean;
  /** The WeirError code of the last failure while it is out of reach. */
  readonly errorCode: string | null;
  /** Subjects whose schema id weir still needs (records of them wait). */
  readonly waiting: readonly string[];
  /** Schemas the registry refuses, one sentence each. */
  readonly refused: readonly string[];
}

interface Pending {
  readonly subject: string;
  readonly label: string;
  readonly schema: KnownSchema;
  running: boolean;
  timer: NodeJS.Timeout | null;
  backoffMs: number;
  refused: RegistryError | null;
}

export class RegistryFramer implements Framer {
  onReady: () => void = () => {};
  readonly #o: RegistryFramerOptions;
  readonly #byFingerprint = new Map<string, KnownSchema>();
  /** topic + fingerprint → subject (or null: a schema this gateway does not know). */
  readonly #subjects = new Map<string, string | null>();
  readonly #pending = new Map<string, Pending>();
  #up = true;
  #errorCode: string | null = null;
  #stopped = false;

  constructor(opts: RegistryFramerOptions) {
    this.#o = opts;
    for (const t of opts.targets) this.#byFingerprint.set(t.schema.fingerprint, t.schema);
  }

  get state(): RegistryState {
    const waiting: string[] = [];
    const refused: string[] = [];
    for (const p of this.#pending.values()) {
      waiting.push(p.subject);
      if (p.refused !== null) refused.push(refusal(p, p.refused));
    }
    return { up: this.#up, errorCode: this.#up ? null : this.#errorCode, waiting, refused };
  }

  /**
   * The start-up check: every target's schema against its subject (lookup, else the compatibility
   * verdict against the latest version, then registration), ids refreshed into the cache. Throws
   * WEIR_REGISTRY_SCHEMA_REFUSED (one sentence: label, subject, the registry's reason) when the
   * registry refuses one. When the registry is out of reach, resolves anyway: the schemas without
   * a cached id are checked in the background before their first record is sent.
   */
  async checkAtStart(): Promise<void> {
    const byKey = new Map<string, SchemaTarget>();
    for (const t of this.#o.targets)
      byKey.set(`${this.#subject(t.topic, t.schema)}\u0000${t.schema.fingerprint}`, t);
    const targets = [...byKey.values()];
    const results = await Promise.allSettled(
      targets.map((t) =>
        this.#o.resolver.resolve(this.#subject(t.topic, t.schema), registrySchema(t.schema), {
          refresh: true,
        }),
      ),
    );
    let offline: RegistryError | null = null;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      const t = targets[i]!;
      const subject = this.#subject(t.topic, t.schema);
      const err = r.reason as unknown;
      if (!(err instanceof RegistryError)) throw err;
      if (!err.retriable) {
        throw new WeirError(
          'WEIR_REGISTRY_SCHEMA_REFUSED',
          refusal({ label: t.label, subject, schema: t.schema }, err),
          { cause: err },
        );
      }
      offline ??= err;
      if (this.#o.resolver.cached(subject, t.schema.fingerprint) === undefined)
        this.#want(subject, t.label, t.schema);
    });
    if (offline !== null) {
      const err: RegistryError = offline;
      this.#markDown(err);
      this.#o.log.warn(
        { err: err.message, code: err.code, waiting: [...this.#pending.keys()].length },
        'schema registry out of reach at start: records are spooled and get their schema ids when it answers',
      );
    }
  }

  frame(batch: Batch): FrameOutcome {
    if (this.#o.wireFormat === 'plain') return { status: 'ok', batch };
    const ids = new Array<number>(batch.records.length);
    let lastHeader: Buffer | undefined;
    let lastId = 0;
    let missing: Pending | WeirError | null = null;
    for (let i = 0; i < batch.records.length; i++) {
      // weir sets this header itself, with one value (a device's property of that name is renamed).
      const value = batch.records[i]!.headers[FINGERPRINT_HEADER];
      const header = Buffer.isBuffer(value) ? value : undefined;
      // Records of one route share their header buffer (or at least its bytes): one lookup per run.
      if (
        header !== undefined &&
        lastHeader !== undefined &&
        (header === lastHeader || header.equals(lastHeader))
      ) {
        ids[i] = lastId;
        continue;
      }
      const found = this.#idOf(batch.topic, header);
      if (typeof found !== 'number') {
        missing = found;
        break;
      }
      lastHeader = header;
      lastId = found;
      ids[i] = found;
    }
    if (missing !== null) {
      if (missing instanceof WeirError) return { status: 'wait', error: missing };
      return { status: 'wait', error: missing.refused ?? this.#waitError(missing.subject) };
    }
    const records: OutboundRecord[] = batch.records.map((r, i) => ({
      ...r,
      value: encodeFramed(ids[i]!, r.value),
    }));
    return {
      status: 'ok',
      batch: { topic: batch.topic, records, bytes: batch.bytes + HEADER_BYTES * records.length },
    };
  }

  stop(): void {
    this.#stopped = true;
    for (const p of this.#pending.values()) if (p.timer !== null) clearTimeout(p.timer);
  }

  /** The id for a record of `topic` with this fingerprint header, or what it waits for. */
  #idOf(topic: string, header: Buffer | undefined): number | Pending | WeirError {
    const fingerprint = header?.toString('latin1') ?? '';
    const key = `${topic}\u0000${fingerprint}`;
    let subject = this.#subjects.get(key);
    const schema = this.#byFingerprint.get(fingerprint);
    if (subject === undefined) {
      subject = schema !== undefined ? this.#subject(topic, schema) : this.#cachedSubject(topic, fingerprint);
      this.#subjects.set(key, subject);
    }
    const id = subject === null ? undefined : this.#o.resolver.cached(subject, fingerprint);
    if (id !== undefined) return id;
    if (subject === null || schema === undefined) {
      return new WeirError(
        'WEIR_REGISTRY_SCHEMA_UNKNOWN',
        `a spooled record of ${topic} was written with a schema this gateway no longer has (fingerprint ${fingerprint.slice(0, 16) || 'missing'}) and whose id it never learnt; it waits until that schema is in a route again`,
      );
    }
    const label = this.#o.targets.find((t) => t.topic === topic && t.schema === schema)?.label;
    return this.#want(subject, label ?? `topic ${topic}`, schema);
  }

  /** For a schema no route has any more: a cached subject of this topic with that fingerprint. */
  #cachedSubject(topic: string, fingerprint: string): string | null {
    const fits = (subject: string) => {
      if (this.#o.strategy === 'TopicName') return subject === `${topic}-value`;
      if (this.#o.strategy === 'TopicRecordName') return subject.startsWith(`${topic}-`);
      return true;
    };
    return (
      this.#o.cache.entries().find((e) => e.fingerprint === fingerprint && fits(e.subject))?.subject ?? null
    );
  }

  #subject(topic: string, schema: KnownSchema): string {
    return subjectName(this.#o.strategy, topic, schema.fullName);
  }

  /** Starts (once) asking the registry for the id of `schema` under `subject`. */
  #want(subject: string, label: string, schema: KnownSchema): Pending {
    const key = `${subject}\u0000${schema.fingerprint}`;
    let p = this.#pending.get(key);
    if (p === undefined) {
      p = { subject, label, schema, running: false, timer: null, backoffMs: 0, refused: null };
      this.#pending.set(key, p);
      void this.#attempt(key, p);
    }
    return p;
  }

  async #attempt(key: string, p: Pending): Promise<void> {
    if (this.#stopped || p.running) return;
    p.timer = null;
    p.running = true;
    const { resolver, log, retryInitialMs = 500, retryMaxMs = 5_000, refusedRetryMs = 60_000 } = this.#o;
    try {
      const id = await resolver.resolve(p.subject, registrySchema(p.schema));
      this.#pending.delete(key);
      if (!this.#up) log.info({ subject: p.subject, id }, 'schema registry answers again');
      this.#up = true;
      this.#retryOthersNow();
      this.onReady();
    } catch (err) {
      if (this.#stopped) return;
      let delayMs: number;
      if (err instanceof RegistryError && !err.retriable) {
        if (p.refused === null) log.error({ subject: p.subject, code: err.code }, refusal(p, err));
        p.refused = err;
        this.#up = true;
        delayMs = refusedRetryMs;
      } else {
        this.#markDown(err);
        p.backoffMs = Math.min(retryMaxMs, p.backoffMs === 0 ? retryInitialMs : p.backoffMs * 2);
        delayMs = p.backoffMs;
      }
      p.timer = setTimeout(() => void this.#attempt(key, p), delayMs);
      p.timer.unref();
    } finally {
      p.running = false;
    }
  }

  /** The registry answered: the others need not wait out their backoff. */
  #retryOthersNow(): void {
    for (const [key, p] of this.#pending) {
      if (p.refused !== null || p.running || p.timer === null) continue;
      clearTimeout(p.timer);
      void this.#attempt(key, p);
    }
  }

  #markDown(err: unknown): void {
    const code = err instanceof WeirError ? err.code : null;
    if (this.#up)
      this.#o.log.warn(
        { err: errorMessage(err), code },
        'schema registry out of reach; records without a known schema id wait in the spool',
      );
    this.#up = false;
    this.#errorCode = code;
  }

  #waitError(subject: string): WeirError {
    return new WeirError(
      'WEIR_REGISTRY_ID_PENDING',
      `the schema id for subject ${subject} is not known yet (schema registry ${this.#up ? 'being asked' : 'out of reach'})`,
      {},
    );
  }
}

function registrySchema(schema: KnownSchema) {
  return { fingerprint: schema.fingerprint, schema: schema.text };
}

/** One sentence naming what was refused, where, and the registry's reason. */
function refusal(p: { label: string; subject: string; schema: KnownSchema }, err: RegistryError): string {
  const what = `${p.label}: the schema registry refuses ${p.schema.file} under subject ${p.subject}`;
  switch (err.code) {
    case 'WEIR_REGISTRY_INCOMPATIBLE':
      return `${what}: ${err.message}`;
    case 'WEIR_REGISTRY_AUTH':
      return `${what}: it refuses weir's credentials (check schemaRegistry.auth): ${err.detail ?? err.message}`;
    case 'WEIR_REGISTRY_NOT_FOUND':
      return `${what}: ${err.message}`;
    default:
      return `${what} (${err.code}) — ${err.message}`;
  }
}
