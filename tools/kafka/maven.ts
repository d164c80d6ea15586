// The Java check and the Maven assembly of a Kafka broker's classpath from Maven Central (no Docker,
// no tarball download), plus the error type and small process helpers every part of the local
// Kafka shares (broker-properties.ts writes its config files, local-kafka.ts runs the processes).
//
// Jars are shared by every state dir: $XDG_CACHE_HOME/weir/kafka-VERSION/libs (or ~/.cache/...).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';

export const DEFAULT_KAFKA_VERSION = '4.3.1';
export const DEFAULT_KAFKA_PORT = 19092;
export const MIN_JAVA_MAJOR = 17;
const JAR_MARKER = '.weir-complete.json';
// Pinned so the jar set does not depend on which plugin version Maven would pick by default.
const DEPENDENCY_PLUGIN_VERSION = '3.8.1';
const LOG4J2_VERSION = '2.25.4'; // Kafka 4.x builds against log4j2 2.25.x
const INSTALL_HINT = 'e.g. `sudo apt-get install openjdk-17-jre-headless maven` on Debian/Raspberry Pi OS';

export type LocalKafkaErrorCode =
  | 'WEIR_KAFKA_JAVA_MISSING'
  | 'WEIR_KAFKA_JAVA_TOO_OLD'
  | 'WEIR_KAFKA_MAVEN_MISSING'
  | 'WEIR_KAFKA_FETCH_FAILED'
  | 'WEIR_KAFKA_FORMAT_FAILED'
  | 'WEIR_KAFKA_SECURITY_FAILED'
  | 'WEIR_KAFKA_PORT_IN_USE'
  | 'WEIR_KAFKA_START_FAILED'
  | 'WEIR_KAFKA_START_TIMEOUT'
  | 'WEIR_KAFKA_NOT_ANSWERING'
  | 'WEIR_KAFKA_STOP_FAILED';

export class LocalKafkaError extends Error {
  readonly code: LocalKafkaErrorCode;
  /** Last lines of the broker's or Maven's output, when there is something to show. */
  readonly logTail: string | undefined;

  constructor(
    code: LocalKafkaErrorCode,
    message: string,
    options: { logTail?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'LocalKafkaError';
    this.code = code;
    this.logTail = options.logTail;
  }
}

export type Log = (line: string) => void;
export const noLog: Log = () => {};
export interface KafkaJars {
  version: string;
  libsDir: string;
  jars: string[];
  /** True when Maven ran; false when the cache was already complete. */
  fetched: boolean;
}

export function defaultJarCacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cache, 'weir', `kafka-${version}`);
}

export function kafkaMajor(version: string): number {
  const major = Number(version.split('.')[0]);
  if (!Number.isInteger(major) || major < 3) throw new Error(`unsupported Kafka version '${version}'`);
  return major;
}

// ---------------------------------------------------------------------------------------------
// Small process helpers

export interface RunResult {
  code: number | null;
  output: string;
  error?: NodeJS.ErrnoException;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 0, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (error === null) resolvePromise({ code: 0, output });
        else {
          const code = typeof error.code === 'number' ? error.code : null;
          resolvePromise({ code, output, error: error as NodeJS.ErrnoException });
        }
      },
    );
  });
}

export function tail(text: string, lines = 30): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes from Maven
  const clean = text.replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
  // drop Maven's generic advice after an error; keep what went wrong
  const boilerplate =
    /^\[ERROR\] *$|^\[ERROR\] (To see the full|Re-run Maven|For more information|\[Help \d+\] http)/;
  return clean
    .split('\n')
    .filter((l) => !boilerplate.test(l))
    .slice(-lines)
    .join('\n');
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function javaBin(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

/** Finds `java` (JAVA_HOME or PATH) and checks it is Java 17 or newer. */
export async function checkJava(): Promise<{ bin: string; major: number }> {
  const bin = javaBin();
  const r = await run(bin, ['-version'], { timeoutMs: 30_000 });
  if (r.error?.code === 'ENOENT') {
    throw new LocalKafkaError(
      'WEIR_KAFKA_JAVA_MISSING',
      `Java ${MIN_JAVA_MAJOR}+ is needed to run Kafka, but \`${bin}\` was not found; install it (${INSTALL_HINT}) or set JAVA_HOME`,
    );
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
  const major = m === null ? Number.NaN : m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (r.code !== 0 || !Number.isFinite(major)) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_JAVA_MISSING',
      `\`${bin} -version\` failed; Java ${MIN_JAVA_MAJOR}+ is needed to run Kafka (${INSTALL_HINT})`,
      { logTail: tail(r.output) },
    );
  }
  if (major < MIN_JAVA_MAJOR) {
    throw new LocalKafkaError(
      'WEIR_KAFKA_JAVA_TOO_OLD',
      `Kafka needs Java ${MIN_JAVA_MAJOR} or newer, but \`${bin}\` is Java ${major}; install a newer one (${INSTALL_HINT}) or point JAVA_HOME at it`,
    );
  }
  return { bin, major };
}

// ---------------------------------------------------------------------------------------------
// Jars

function loggingDeps(version: string): Array<[string, string, string]> {
  if (kafkaMajor(version) >= 4) {
    // Kafka 4.x logs through slf4j 1.7.36 to log4j2; its binding is compileOnly, so add it here
    // (the 1.x binding log4j-slf4j-impl, not log4j-slf4j2-impl). Without it Kafka logs nothing.
    return [
      ['org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J2_VERSION],
      ['org.apache.logging.log4j', 'log4j-core', LOG4J2_VERSION],
      ['org.apache.logging.log4j', 'log4j-api', LOG4J2_VERSION],
    ];
  }
  return [
    ['org.slf4j', 'slf4j-reload4j', '1.7.36'],
    ['ch.qos.reload4j', 'reload4j', '1.2.25'],
  ];
}

export function kafkaPomXml(version: string): string {
  const deps: Array<[string, string, string]> = [
    ['org.apache.kafka', 'kafka_2.13', version],
    ...loggingDeps(version),
  ];
  const depXml = deps
    .map(
      ([g, a, v]) =>
        `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version><scope>runtime</scope></dependency>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by weir (tools/kafka/local-kafka.ts): the classpath of a Kafka ${version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.local</groupId>
  <artifactId>weir-local-kafka</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${depXml}
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>${DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

async function completeJars(libsDir: string, pom: string): Promise<string[] | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(libsDir, JAR_MARKER), 'utf8')) as {
      pom?: string;
      jars?: string[];
    };
    if (marker.pom !== pom || !Array.isArray(marker.jars) || marker.jars.length === 0) return undefined;
    for (const jar of marker.jars) if (!(await exists(join(libsDir, jar)))) return undefined;
    return marker.jars;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the jars of Kafka `version` (plus a logging backend) are in the shared cache, running
 * Maven only when the cache is not complete. Maven itself caches in ~/.m2, so a rerun after the
 * cache dir was removed is fast and offline.
 */
export async function ensureKafkaJars(
  opts: { version?: string; cacheDir?: string; log?: Log } = {},
): Promise<KafkaJars> {
  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const log = opts.log ?? noLog;
  const root = resolve(opts.cacheDir ?? defaultJarCacheDir(version));
  const libsDir = join(root, 'libs');
  const pom = kafkaPomXml(version);

  const cached = await completeJars(libsDir, pom);
  if (cached !== undefined) return { version, libsDir, jars: cached, fetched: false };

  await mkdir(root, { recursive: true });
  const pomPath = join(root, 'pom.xml');
  await writeFile(pomPath, pom);
  // Copy into a private dir and rename it into place, so an interrupted or concurrent fetch never
  // leaves a half-filled libs dir that looks complete.
  const tmp = join(root, `libs.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  log(`downloading Kafka ${version} jars with Maven into ${libsDir} ...`);
  const r = await run(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      pomPath,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${tmp}`,
    ],
    { cwd: root },
  );
  try {
    if (r.error?.code === 'ENOENT') {
      throw new LocalKafkaError(
        'WEIR_KAFKA_MAVEN_MISSING',
        `Maven (\`mvn\`) is needed to download Kafka's jars from Maven Central but was not found on PATH; install it (${INSTALL_HINT})`,
      );
    }
    if (r.code !== 0) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_FETCH_FAILED',
        `Maven could not download Kafka ${version} (org.apache.kafka:kafka_2.13:${version}); see the output below (pom: ${pomPath})`,
        { logTail: tail(r.output) },
      );
    }
    const jars = (await readdir(tmp)).filter((f) => f.endsWith('.jar')).sort();
    if (!jars.includes(`kafka_2.13-${version}.jar`) || !jars.some((j) => j.startsWith('kafka-clients-'))) {
      throw new LocalKafkaError(
        'WEIR_KAFKA_FETCH_FAILED',
        `Maven finished but ${tmp} lacks kafka_2.13-${version}.jar or kafka-clients; pom: ${pomPath}`,
        { logTail: tail(r.output) },
      );
    }
    await writeFile(join(tmp, JAR_MARKER), `${JSON.stringify({ version, pom, jars }, null, 2)}\n`);
    const raced = await completeJars(libsDir, pom);
    if (raced !== undefined) return { version, libsDir, jars: raced, fetched: true };
    await rm(libsDir, { recursive: true, force: true });
    await rename(tmp, libsDir);
    return { version, libsDir, jars, fetched: true };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
