// Every released version of every schema in schemas/ is kept in schemas/history/<name>/vN.avsc;
// the newest one equals schemas/<name>.avsc. Kafka topics keep records written with old
// versions, so each version must read data written with every earlier one (transitive backward
// compatibility) — test/unit/schemas.test.ts checks that with avsc's resolver.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
export const HISTORY_DIR = path.join(SCHEMAS_DIR, 'history');

export interface SchemaVersion {
  readonly version: number;
  readonly file: string;
  readonly json: unknown;
}

/** Names of the current schemas (file names without .avsc). */
export function schemaNames(): string[] {
  return readdirSync(SCHEMAS_DIR)
    .filter((f) => f.endsWith('.avsc'))
    .map((f) => f.slice(0, -'.avsc'.length))
    .sort();
}

export function readSchemaJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The versions of one schema, oldest first. */
export function schemaHistory(name: string): SchemaVersion[] {
  const dir = path.join(HISTORY_DIR, name);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .map((f) => ({ f, m: /^v(\d+)\.avsc$/.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({
      version: Number(m[1]),
      file: path.join(dir, f),
      json: readSchemaJson(path.join(dir, f)),
    }))
    .sort((a, b) => a.version - b.version);
}

/** Parses a schema the way the gateway does (a fresh options object per call). */
export function parseSchema(json: unknown): avro.Type {
  return avro.Type.forSchema(json as avro.Schema, { wrapUnions: 'auto' });
}

/** The schema without its `doc` strings: what must not change without a new version. */
export function withoutDocs(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(withoutDocs);
  if (json !== null && typeof json === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) if (k !== 'doc') out[k] = withoutDocs(v);
    return out;
  }
  return json;
}

/**
 * Why `reader` cannot read data written with `writer`, or null when it can. Uses avsc's schema
 * resolution (the Avro specification's rules: added fields need defaults, types may only
 * widen or become unions that include them, enum symbols may not disappear without a default).
 */
export function backwardIncompatibility(reader: avro.Type, writer: avro.Type): string | null {
  try {
    reader.createResolver(writer);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
