// Apicurio Registry's distribution (io.apicurio:apicurio-registry-app:VERSION:tar.gz:all), fetched
// from Maven Central and unpacked into the shared cache $XDG_CACHE_HOME/weir/apicurio-registry-VERSION
// (or ~/.cache/...), used by every state dir.
//
// Version: Apicurio Registry 3.0.9, the newest release that runs on Java 17. Maven Central also
// serves 3.3.2 and 3.3.3, but those are compiled for Java 21 (class file version 65) and stop at
// start-up on Java 17 with UnsupportedClassVersionError. 3.0.9's parent pom
// (io.apicurio:apicurio-registry:3.0.9) is missing from Maven Central, so current versions of
// maven-dependency-plugin refuse the artifact ("Failed to read artifact descriptor"); version 2.8
// of the plugin copies it without reading its descriptor, and Maven keeps it in ~/.m2.
import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { cacheDir, type FetchOptions, fillCacheDir, readMarker, runMaven } from '../local-service/maven.ts';
import { exists, run, tail } from '../local-service/run.ts';
import { noLog } from '../local-service/service.ts';
import { LocalRegistryError, REGISTRY } from './service.ts';

export const DEFAULT_REGISTRY_VERSION = '3.0.9';
// See the top of this file for why the old plugin version.
const COPY_GOAL = 'org.apache.maven.plugins:maven-dependency-plugin:2.8:copy';

export interface RegistryDistribution {
  version: string;
  /** The unpacked distribution. */
  appDir: string;
  /** The jar `java -jar` runs, relative to appDir. */
  runJar: string;
  /** True when Maven ran; false when the cache was already complete. */
  fetched: boolean;
}

export function defaultRegistryCacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  return cacheDir(`apicurio-registry-${version}`, env);
}

async function completeDistribution(appDir: string, version: string): Promise<string | undefined> {
  const marker = (await readMarker(appDir)) as { version?: string; runJar?: string } | undefined;
  if (marker?.version !== version || typeof marker.runJar !== 'string') return undefined;
  return (await exists(join(appDir, marker.runJar))) ? marker.runJar : undefined;
}

/** The jar to run: `quarkus-run.jar` (Quarkus fast-jar, Apicurio 3.1+) or `*-runner.jar` (3.0.x). */
async function findRunJar(appDir: string): Promise<string | undefined> {
  if (await exists(join(appDir, 'quarkus-run.jar'))) return 'quarkus-run.jar';
  return (await readdir(appDir)).find((f) => f.endsWith('-runner.jar'));
}

/**
 * Makes sure Apicurio Registry `version` is unpacked in the shared cache, running Maven only when
 * it is not (tools/local-service/maven.ts).
 */
export async function ensureRegistryDistribution(opts: FetchOptions = {}): Promise<RegistryDistribution> {
  const version = opts.version ?? DEFAULT_REGISTRY_VERSION;
  const log = opts.log ?? noLog;
  const root = resolve(opts.cacheDir ?? defaultRegistryCacheDir(version));
  const appDir = join(root, 'app');
  const { result: runJar, fetched } = await fillCacheDir({
    dir: appDir,
    complete: () => completeDistribution(appDir, version),
    fill: async (tmp) => {
      const artifact = `io.apicurio:apicurio-registry-app:${version}:tar.gz:all`;
      log(`downloading Apicurio Registry ${version} with Maven (${artifact}) ...`);
      const r = await runMaven(
        REGISTRY,
        'the registry',
        [COPY_GOAL, `-Dartifact=${artifact}`, `-DoutputDirectory=${tmp}`],
        root,
      );
      const tarball = join(tmp, `apicurio-registry-app-${version}-all.tar.gz`);
      if (r.code !== 0 || !(await exists(tarball))) {
        throw new LocalRegistryError(
          'WEIR_LOCAL_REGISTRY_FETCH_FAILED',
          `Maven could not download ${artifact}; see the output below`,
          { logTail: tail(r.output) },
        );
      }
      const unpacked = join(tmp, 'app');
      await mkdir(unpacked);
      const x = await run('tar', ['-xzf', tarball, '-C', unpacked], { timeoutMs: 300_000 });
      const runJar = x.code === 0 ? await findRunJar(unpacked) : undefined;
      if (runJar === undefined) {
        throw new LocalRegistryError(
          'WEIR_LOCAL_REGISTRY_FETCH_FAILED',
          `unpacking ${tarball} ${x.code === 0 ? 'gave no quarkus-run.jar or *-runner.jar' : 'failed'}`,
          { logTail: tail(x.output) },
        );
      }
      return { filled: unpacked, marker: { version, artifact, runJar }, result: runJar };
    },
  });
  return { version, appDir, runJar, fetched };
}
