// Decoding what the gateway wrote. Each record names its writer schema in the
// `avro-schema-fingerprint` header (SHA-256 of the canonical form); verify knows every released
// version (schemas/history) and reads each record with the right writer schema, resolved to the
// current one — so a run across a schema upgrade still verifies.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { SCHEMAS_DIR } from './targets.ts';

const parse = (json: unknown) => avro.Type.forSchema(json as avro.Schema, { wrapUnions: 'auto' });

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Every schema version we know, by fingerprint. */
function knownWriters(): Map<string, avro.Type> {
  const files: string[] = [];
  const history = path.join(SCHEMAS_DIR, 'history');
  for (const name of safeReaddir(history)) {
    for (const f of safeReaddir(path.join(history, name)))
      if (f.endsWith('.avsc')) files.push(path.join(history, name, f));
  }
  const out = new Map<string, avro.Type>();
  for (const file of files) {
    try {
      const type = parse(readJson(file));
      out.set(type.fingerprint('sha256').toString('hex'), type);
    } catch {
      // An unreadable history file is the schema test's business, not verify's.
    }
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export class TopicDecoder {
  readonly reader: avro.Type;
  readonly fieldNames: ReadonlySet<string>;
  readonly #readerFingerprint: string;
  readonly #writers: Map<string, avro.Type>;
  readonly #resolvers = new Map<string, avro.Resolver | null>();

  constructor(schemaPath: string, writers: Map<string, avro.Type> = knownWriters()) {
    this.reader = parse(readJson(schemaPath));
    this.fieldNames = new Set((this.reader as avro.types.RecordType).fields.map((f) => f.name));
    this.#readerFingerprint = this.reader.fingerprint('sha256').toString('hex');
    this.#writers = writers;
  }

  /** The record, or null when the writer schema is unknown or the bytes do not decode. */
  decode(value: Buffer, fingerprint: string | undefined): Record<string, unknown> | null {
    try {
      if (fingerprint === undefined || fingerprint === this.#readerFingerprint) {
        return this.reader.fromBuffer(value) as Record<string, unknown>;
      }
      let resolver = this.#resolvers.get(fingerprint);
      if (resolver === undefined) {
        const writer = this.#writers.get(fingerprint);
        resolver = writer === undefined ? null : this.reader.createResolver(writer);
        this.#resolvers.set(fingerprint, resolver);
      }
      if (resolver === null) return null;
      return this.reader.fromBuffer(value, resolver) as Record<string, unknown>;
    } catch {
      return null;
    }
  }
}

export function deadLetterDecoder(): TopicDecoder {
  return new TopicDecoder(path.join(SCHEMAS_DIR, 'deadletter.avsc'));
}
