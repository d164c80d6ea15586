// The Java every local service runs on: JAVA_HOME's, else the one on PATH, at least Java 17.
import { join } from 'node:path';
import process from 'node:process';
import { run, tail } from './run.ts';
import type { LocalServiceSpec } from './service.ts';

export const MIN_JAVA_MAJOR = 17;
/** How to get what the local services need, for messages that say something is missing. */
export const INSTALL_HINT =
  'e.g. `sudo apt-get install openjdk-17-jre-headless maven` on Debian/Raspberry Pi OS';

function javaBin(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

/** Finds `java` (JAVA_HOME or PATH) and checks it is Java 17 or newer, to run `service`. */
export async function checkJava(service: LocalServiceSpec): Promise<{ bin: string; major: number }> {
  const bin = javaBin();
  const r = await run(bin, ['-version'], { timeoutMs: 30_000 });
  if (r.error?.code === 'ENOENT') {
    throw service.error(
      'JAVA_MISSING',
      `Java ${MIN_JAVA_MAJOR}+ is needed to run ${service.name}, but \`${bin}\` was not found; install it (${INSTALL_HINT}) or set JAVA_HOME`,
    );
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.output);
  const major = m === null ? Number.NaN : m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (r.code !== 0 || !Number.isFinite(major)) {
    throw service.error(
      'JAVA_MISSING',
      `\`${bin} -version\` failed; Java ${MIN_JAVA_MAJOR}+ is needed to run ${service.name} (${INSTALL_HINT})`,
      { logTail: tail(r.output) },
    );
  }
  if (major < MIN_JAVA_MAJOR) {
    throw service.error(
      'JAVA_TOO_OLD',
      `${service.name} needs Java ${MIN_JAVA_MAJOR} or newer, but \`${bin}\` is Java ${major}; install a newer one (${INSTALL_HINT}) or point JAVA_HOME at it`,
    );
  }
  return { bin, major };
}
