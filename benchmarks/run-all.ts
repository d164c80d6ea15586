// `npm run bench`: every case in turn, each in its own process, sharing one local Kafka (1 GB
// heap) started here. Arguments are passed to every case (e.g. `npm run bench -- --quick`, or
// `--pi` for the Pi-class profile: lib/profile.ts). Cases that fail are reported at the end; the
// others still run.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { openBenchKafka } from './lib/kafka.ts';
import { BENCH_DIR } from './lib/procs.ts';

const ALL_CASES = [
  'spool-append',
  'ingest-ceiling',
  'mosquitto',
  'end-to-end',
  'latency',
  'outage',
  'memory',
  'peer',
];
const args = process.argv.slice(2);
const quick = args.includes('--quick');
// spool-append measures the spool in its own process, with no server to pin: not in the profile.
const pi = args.some((a) => a === '--pi' || a.startsWith('--pi-memory-mb'));
const CASES = pi ? ALL_CASES.filter((c) => c !== 'spool-append') : ALL_CASES;
// spool-append takes its own flags: a quick run appends fewer records.
const caseArgs = (name: string) =>
  name === 'spool-append' ? (quick ? ['--records=50000', '--baseline-records=1000'] : []) : args;

const started = Date.now();
const kafka = await openBenchKafka({});
const failed: string[] = [];
try {
  for (const name of CASES) {
    process.stderr.write(`\n== ${name} ==\n`);
    const t = Date.now();
    const r = spawnSync(process.execPath, [path.join(BENCH_DIR, `${name}.ts`), ...caseArgs(name)], {
      stdio: 'inherit',
      env: { ...process.env, WEIR_BENCH_KAFKA_DIR: kafka.dir! },
    });
    process.stderr.write(
      `== ${name}: ${r.status === 0 ? 'done' : `FAILED (${r.status ?? r.signal})`} in ${Math.round((Date.now() - t) / 1000)} s ==\n`,
    );
    if (r.status !== 0) failed.push(name);
  }
} finally {
  await kafka.close();
}
process.stderr.write(
  `\nall cases in ${Math.round((Date.now() - started) / 1000)} s${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}\n`,
);
process.exit(failed.length > 0 ? 1 : 0);
