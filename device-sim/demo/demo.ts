// `weir demo`: everything at once on one machine — the local Kafka (started unless one is given or
// already running), the fleet topics switched to Kafka append time, the gateway as a child process
// with the sample config, a mixed fleet publishing for a while, then verify. Whatever it started,
// it stops again, also on Ctrl-C; a Kafka that was already running is left running.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalKafkaError, startKafka, stopKafka } from '../../tools/kafka/local-kafka.ts';
import { kafkaClient, prepareAppendTimeTopics, withAdmin } from '../kafka.ts';
import { parseSimArgs } from '../options.ts';
import { formatCount, formatDuration } from '../parse.ts';
import { writeReport } from '../report.ts';
import { runSimulation } from '../runner.ts';
import { simSummary } from '../summary.ts';
import { formatResult } from '../verify/format.ts';
import { resolveTargets, sampleDevices } from '../verify/targets.ts';
import { verifyRun } from '../verify/verify.ts';
import { freePort, GatewayStartError, startGatewayProcess } from './gateway-process.ts';

export const SAMPLE_CONFIG = fileURLToPath(new URL('../../deploy/weir.example.yaml', import.meta.url));

export interface DemoOptions {
  readonly devices: number;
  readonly durationMs: number;
  readonly seed: number | undefined;
  /** Use this Kafka instead of the local one. */
  readonly brokers: readonly string[] | null;
  readonly kafkaDir: string | undefined;
  readonly kafkaPort: number | undefined;
  /** null: any free port. */
  readonly mqttPort: number | null;
}

export interface DemoIo {
  /** Progress of the demo itself. */
  say(line: string): void;
  /** The simulator's status lines and verify's progress. */
  status(line: string): void;
  /** Results. */
  out(line: string): void;
}

export interface DemoSignals {
  /** First Ctrl-C: stop the current step and clean up. */
  readonly stop: AbortSignal;
  /** Second Ctrl-C: do not wait for acknowledgements either. */
  readonly abandon: AbortSignal;
}

export const INTERRUPTED = 130;

export async function runDemo(opts: DemoOptions, io: DemoIo, signals: DemoSignals): Promise<number> {
  const cleanups: Array<() => Promise<void>> = [];
  const workDir = await mkdtemp(path.join(tmpdir(), 'weir-demo-'));
  let filesNote: string | null = null;
  const step = (n: number, text: string) => io.say(`[${n}/5] ${text}`);
  try {
    // 1. Kafka.
    let brokers: readonly string[];
    if (opts.brokers !== null) {
      brokers = opts.brokers;
      step(1, `using the Kafka at ${brokers.join(',')}`);
    } else {
      step(1, 'local Kafka (the first start downloads its jars with Maven; this can take a few minutes)');
      let info: Awaited<ReturnType<typeof startKafka>>;
      try {
        info = await startKafka({
          dir: opts.kafkaDir,
          port: opts.kafkaPort,
          log: (l) => io.say(`      ${l}`),
        });
      } catch (e) {
        if (e instanceof LocalKafkaError) {
          io.say(`cannot start the local Kafka: ${e.message} [${e.code}]`);
          if (e.logTail) io.say(e.logTail.replace(/^/gm, '      | '));
          io.say('The local Kafka needs Java 17+ and Maven (Debian / Raspberry Pi OS:');
          io.say('`sudo apt-get install openjdk-17-jre-headless maven`), or point the demo at a');
          io.say('running Kafka with `npm run demo -- --kafka-brokers HOST:PORT`.');
          return 1;
        }
        throw e;
      }
      brokers = [info.brokers];
      if (info.alreadyRunning)
        io.say(`      Kafka ${info.version} already running at ${info.brokers}; the demo leaves it running`);
      else {
        io.say(`      Kafka ${info.version} started at ${info.brokers} (pid ${info.pid})`);
        cleanups.push(async () => {
          io.say('stopping the local Kafka');
          await stopKafka({ dir: info.dir });
        });
      }
    }
    if (signals.stop.aborted) return INTERRUPTED;

    // 2. Topics stamped with Kafka's append time, so verify can measure device → Kafka latency.
    const targets = resolveTargets(sampleDevices(), { configPath: SAMPLE_CONFIG });
    const prepared = await withAdmin(kafkaClient(brokers, 'weir-demo'), (admin) =>
      prepareAppendTimeTopics(
        admin,
        targets.fleets.map((t) => t.topic),
      ),
    );
    step(
      2,
      `topics: ${prepared.map((p) => `${p.topic} (${p.action === 'unchanged' ? 'ready' : p.action})`).join(', ')}`,
    );
    if (signals.stop.aborted) return INTERRUPTED;

    // 3. The gateway.
    const mqttPort = opts.mqttPort ?? (await freePort());
    const logFile = path.join(workDir, 'gateway.log');
    const spoolDir = path.join(workDir, 'spool');
    const gateway = await startGatewayProcess({
      configPath: SAMPLE_CONFIG,
      mqttPort,
      brokers,
      spoolDir,
      logFile,
      onProblem: (line) => io.say(`      gateway: ${line}`),
    });
    cleanups.push(async () => {
      io.say('stopping the gateway');
      const code = await gateway.stop();
      if (code !== 0) io.say(`      the gateway exited with code ${code}; its log: ${logFile}`);
      // Nothing will start this gateway again: its spool has no further use.
      await rm(spoolDir, { recursive: true, force: true });
    });
    filesNote = `files: ${workDir} (gateway.log, sim-report.json)`;
    step(
      3,
      `gateway (pid ${gateway.pid}) on ${gateway.url} with ${path.relative(process.cwd(), SAMPLE_CONFIG)}; log: ${logFile}`,
    );
    if (signals.stop.aborted) return INTERRUPTED;

    // 4. The fleet: exactly `weir sim` with these flags.
    const reportPath = path.join(workDir, 'sim-report.json');
    const simArgs = [
      '--broker',
      gateway.url,
      '--fleet',
      'mixed',
      '--devices',
      String(opts.devices),
      '--duration',
      `${opts.durationMs / 1000}s`,
      '--ramp-up',
      `${Math.min(5, opts.durationMs / 4000)}s`,
      '--qos',
      '1',
      '--report',
      reportPath,
      ...(opts.seed !== undefined ? ['--seed', String(opts.seed)] : []),
    ];
    const parsed = parseSimArgs(simArgs, {
      nowMs: Date.now(),
      randomSeed: Math.floor(Math.random() * 2 ** 31),
      randomRunId: Math.floor(Math.random() * 0xffffff)
        .toString(16)
        .padStart(6, '0'),
      env: {},
    });
    if (!parsed.ok || parsed.help) throw new Error(`demo: bad simulator settings: ${JSON.stringify(parsed)}`);
    const simOpts = parsed.options;
    const seedArgs = opts.seed === undefined ? ['--seed', String(simOpts.seed)] : [];
    step(
      4,
      `${formatCount(simOpts.devices)} devices (mixed fleets) for ${formatDuration(simOpts.durationMs ?? 0)}: ` +
        `weir sim ${[...simArgs, ...seedArgs].join(' ')}`,
    );
    const { report } = await runSimulation(simOpts, {
      status: io.status,
      stop: signals.stop,
      abandon: signals.abandon,
    });
    await writeReport(reportPath, report);
    for (const line of simSummary(report)) io.out(line);
    if (signals.stop.aborted) return INTERRUPTED;

    // 5. Verify.
    step(
      5,
      `verify: weir verify --report ${reportPath} --config ${path.relative(process.cwd(), SAMPLE_CONFIG)} --kafka-brokers ${brokers.join(',')}`,
    );
    const result = await verifyRun(
      report,
      {
        brokers,
        configPath: SAMPLE_CONFIG,
        from: 'run',
        timeoutMs: 120_000,
        waitMs: 10_000,
        integrity: true,
      },
      {
        progress: ({ read, total }) =>
          io.status(`verify: read ${formatCount(read)} of ${formatCount(total)} records`),
      },
    );
    io.out('');
    for (const line of formatResult(result)) io.out(line);
    return result.exitCode;
  } catch (e) {
    if (e instanceof GatewayStartError) {
      io.say(e.message);
      filesNote = `files: ${workDir} (gateway.log)`;
      return 1;
    }
    throw e;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((e: unknown) => io.say(`      ${(e as Error).message}`));
    }
    if (filesNote !== null) io.out(filesNote);
    else await rm(workDir, { recursive: true, force: true });
  }
}
