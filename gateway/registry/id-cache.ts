// The schema id cache: which registry id each (subject, schema fingerprint) pair has, kept in a
// file beside the spool so that a gateway restarted without an uplink still knows the ids it
// learnt before, and can send records in the Confluent wire format at once.
//
// Invariants
// 1. The file is written whole and atomically: a temp file, fsync, rename over the old file,
//    fsync of the directory. After a crash it holds the old or the new content, never a mix.
// 2. Writes happen one at a time, in the order of the calls (one queue per cache object); a
//    write only happens when an entry is new or its id changed.
// 3. A damaged or unreadable file is reported and the cache starts empty: ids can always be asked
//    of the registry again, so a bad file never stops the gateway. It is overwritten by the next
//    write.
// 4. An id is never guessed: a miss means "ask the registry".
//
// Format (JSON, one object, UTF-8):
//   { "version": 1,
//     "ids": { "<subject>": { "<sha-256 fingerprint of the schema's canonical form, hex>": <id> } } }
// The fingerprint is the one gateway/codec/avro.ts computes (LoadedSchema.fingerprint), so a
// change of docs or field order that keeps the canonical form keeps the id.
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory } from '../spool/disk/checkpoint.ts';
import { isSchemaId } from './framing.ts';

export const ID_CACHE_FILE = 'schema-ids.json';
const FINGERPRINT = /^[0-9a-f]{64}$/;

export interface IdCacheEntry {
  readonly subject: string;
  readonly fingerprint: string;
  readonly id: number;
}

export class SchemaIdCache {
  readonly file: string;
  readonly #ids = new Map<string, Map<string, number>>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(file: string) {
    this.file = file;
  }

  /**
   * Opens the cache file `dir/name` (default schema-ids.json). A missing file is an empty cache;
   * a damaged one is an empty cache plus `problem`, which the caller logs.
   */
  static async open(dir: string, name = ID_CACHE_FILE): Promise<{ cache: SchemaIdCache; problem?: string }> {
    const cache = new SchemaIdCache(path.join(dir, name));
    let text: string;
    try {
      text = await readFile(cache.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cache };
      return { cache, problem: `cannot read ${cache.file}: ${(err as NodeJS.ErrnoException).code ?? err}` };
    }
    const entries = parse(text);
    if (entries === null) {
      return {
        cache,
        problem: `unreadable schema id cache ${cache.file}: ${JSON.stringify(text.slice(0, 80))}`,
      };
    }
    for (const e of entries) cache.#put(e.subject, e.fingerprint, e.id);
    return { cache };
  }

  get(subject: string, fingerprint: string): number | undefined {
    return this.#ids.get(subject)?.get(fingerprint);
  }

  get size(): number {
    let n = 0;
    for (const m of this.#ids.values()) n += m.size;
    return n;
  }

  entries(): IdCacheEntry[] {
    const out: IdCacheEntry[] = [];
    for (const [subject, m] of this.#ids)
      for (const [fingerprint, id] of m) out.push({ subject, fingerprint, id });
    return out;
  }

  /**
   * Records an id and, when that changed anything, writes the file (resolves once it is durable).
   * Throws TypeError on an argument that could not be read back (bad fingerprint or id).
   */
  set(subject: string, fingerprint: string, id: number): Promise<void> {
    if (subject === '') throw new TypeError('subject must not be empty');
    if (!FINGERPRINT.test(fingerprint)) throw new TypeError(`not a SHA-256 hex fingerprint: ${fingerprint}`);
    if (!isSchemaId(id)) throw new TypeError(`not a schema id: ${id}`);
    if (this.get(subject, fingerprint) === id) return this.#writes;
    this.#put(subject, fingerprint, id);
    const text = this.#serialize();
    const write = this.#writes.then(() => writeAtomically(this.file, text));
    // A failed write does not poison the queue; the caller of this set() sees its error.
    this.#writes = write.catch(() => {});
    return write;
  }

  #put(subject: string, fingerprint: string, id: number): void {
    let m = this.#ids.get(subject);
    if (m === undefined) {
      m = new Map();
      this.#ids.set(subject, m);
    }
    m.set(fingerprint, id);
  }

  #serialize(): string {
    const ids: Record<string, Record<string, number>> = {};
    for (const subject of [...this.#ids.keys()].sort()) {
      const m = this.#ids.get(subject)!;
      ids[subject] = Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return `${JSON.stringify({ version: 1, ids }, null, 2)}\n`;
  }
}

function parse(text: string): IdCacheEntry[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const root = parsed as { version?: unknown; ids?: unknown } | null;
  if (root === null || typeof root !== 'object' || root.version !== 1) return null;
  if (root.ids === null || typeof root.ids !== 'object' || Array.isArray(root.ids)) return null;
  const out: IdCacheEntry[] = [];
  for (const [subject, byFp] of Object.entries(root.ids as Record<string, unknown>)) {
    if (subject === '' || byFp === null || typeof byFp !== 'object' || Array.isArray(byFp)) return null;
    for (const [fingerprint, id] of Object.entries(byFp as Record<string, unknown>)) {
      if (!FINGERPRINT.test(fingerprint) || !isSchemaId(id)) return null;
      out.push({ subject, fingerprint, id });
    }
  }
  return out;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(path.dirname(file));
}
