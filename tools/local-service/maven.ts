// Fetching a local service's files from Maven Central into weir's shared cache,
// $XDG_CACHE_HOME/weir/NAME (or ~/.cache/weir/NAME), shared by every state dir.
//
// Maven fills a private temporary dir, which is renamed into place only once it is complete and
// holds a marker file (.weir-complete.json) saying what it is: an interrupted or concurrent fetch
// never leaves a half-filled dir that looks complete, and a dir is used only while its marker
// matches what is asked for. Maven keeps what it downloads in ~/.m2, so a fetch after the cache
// dir was removed is fast and offline.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import process from 'node:process';
import { INSTALL_HINT } from './java.ts';
import { type RunResult, run } from './run.ts';
import type { LocalServiceSpec, Log } from './service.ts';

const MARKER = '.weir-complete.json';

/** What fetching a service's files takes (each service says its defaults). */
export interface FetchOptions {
  version?: string;
  /** The service's dir in the cache (default: cacheDir() of its name and version). */
  cacheDir?: string;
  /** Where progress goes (the download is the slow part). */
  log?: Log;
}

/** $XDG_CACHE_HOME/weir/`name`, or ~/.cache/weir/`name`. */
export function cacheDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cache, 'weir', name);
}

/** The marker of a complete dir (what it holds), or undefined when there is none. */
export async function readMarker(dir: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Runs Maven (`mvn -q -B`, no colours) in `cwd`. Throws the service's MAVEN_MISSING error when there
 * is no `mvn` on PATH; any other outcome is the caller's to judge. `what` ends the sentence "Maven
 * is needed to download ...".
 */
export async function runMaven(
  service: LocalServiceSpec,
  what: string,
  args: string[],
  cwd: string,
): Promise<RunResult> {
  const r = await run('mvn', ['-q', '-B', '-Dstyle.color=never', ...args], { cwd });
  if (r.error?.code === 'ENOENT') {
    throw service.error(
      'MAVEN_MISSING',
      `Maven (\`mvn\`) is needed to download ${what} from Maven Central but was not found on PATH; install it (${INSTALL_HINT})`,
    );
  }
  return r;
}

/**
 * Makes sure `dir` is complete, filling it only when `complete()` finds it is not. `fill` gets a
 * new private dir next to `dir` (removed afterwards, whatever happens), fills it or a dir inside
 * it, and says which dir becomes `dir`, what to note in its marker, and its result. When another
 * fetch completed `dir` meanwhile, that one is kept.
 */
export async function fillCacheDir<T>(o: {
  dir: string;
  complete: () => Promise<T | undefined>;
  fill: (tmp: string) => Promise<{ filled: string; marker: object; result: T }>;
}): Promise<{ result: T; fetched: boolean }> {
  const cached = await o.complete();
  if (cached !== undefined) return { result: cached, fetched: false };
  const root = dirname(o.dir);
  await mkdir(root, { recursive: true });
  const tmp = join(root, `${basename(o.dir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const { filled, marker, result } = await o.fill(tmp);
    await writeFile(join(filled, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    const raced = await o.complete();
    if (raced !== undefined) return { result: raced, fetched: true };
    await rm(o.dir, { recursive: true, force: true });
    await rename(filled, o.dir);
    return { result, fetched: true };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
