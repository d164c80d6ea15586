// `weir demo` (and `npm run demo`): the whole pipeline on this machine in about a minute.
// Exit codes: verify's (0 pass, 1 loss, 3 Kafka unreadable); 1 when a part could not start;
// 2 usage errors; 130 after Ctrl-C. Ctrl-C once: stop and clean up; twice: also skip the wait for
// acknowledgements; three times: exit at once.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { ignoreKafkajsNegativeTimeoutWarnings } from '../../gateway/sinks/kafka/kafkajs-warnings.ts';
import { parseDuration, parseIntInRange } from '../parse.ts';
import { type DemoOptions, runDemo } from './demo.ts';

const HELP = `usage: weir demo [options]

Starts the local Kafka (unless one is running or --kafka-brokers is given), switches the fleet
topics to Kafka append time, starts the gateway with deploy/weir.example.yaml, runs a mixed fleet
of simulated devices, then verifies every acknowledged message in Kafka and prints the summary.
Stops what it started — the gateway always, Kafka only if the demo started it — also on Ctrl-C.

options:
  --devices N            simulated devices (default 300)
  --duration D           how long they publish (default 30s)
  --seed N               random seed of the fleet (default: random)
  --kafka-brokers LIST   use this Kafka (host:port,...) instead of the local one
  --kafka-dir DIR        state dir of the local Kafka (default: weir kafka's)
  --kafka-port P         port of the local Kafka (default 19092)
  --mqtt-port P          the gateway's MQTT port (default: a free one)
  -h, --help             this help
`;

export async function demoCommand(args: string[]): Promise<number> {
  ignoreKafkajsNegativeTimeoutWarnings();
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (e) {
    process.stderr.write(`weir demo: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const problems: string[] = [];
  const int = (flag: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = parseIntInRange(text, min, max);
    if (n === null) problems.push(`${flag} must be an integer ${min}–${max}, not '${text}'`);
    return n ?? undefined;
  };
  const durationMs = parseDuration(values.duration ?? '30s');
  if (durationMs === null || durationMs < 1000)
    problems.push(`--duration: '${values.duration}' is not a duration of at least 1s`);
  const brokers = values['kafka-brokers']
    ?.split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers !== undefined && (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d{1,5}$/.test(b)))) {
    problems.push(`--kafka-brokers: expected host:port[,host:port…], not '${values['kafka-brokers']}'`);
  }
  const opts: DemoOptions = {
    devices: int('--devices', values.devices, 1, 100_000) ?? 300,
    durationMs: durationMs ?? 30_000,
    seed: int('--seed', values.seed, 0, 2 ** 32 - 1),
    brokers: brokers ?? null,
    kafkaDir: values['kafka-dir'],
    kafkaPort: int('--kafka-port', values['kafka-port'], 1, 65_534),
    mqttPort: int('--mqtt-port', values['mqtt-port'], 1, 65_535) ?? null,
  };
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`weir demo: ${p}\n`);
    return 2;
  }

  const stop = new AbortController();
  const abandon = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      process.stderr.write(
        '\nweir demo: stopping and cleaning up (Ctrl-C again to skip waiting for acknowledgements)\n',
      );
      stop.abort();
    } else if (signals === 2) abandon.abort();
    else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runDemo(
      opts,
      {
        say: (line) => process.stdout.write(`weir demo: ${line}\n`),
        status: (line) => process.stdout.write(`  ${line}\n`),
        out: (line) => process.stdout.write(`${line}\n`),
      },
      { stop: stop.signal, abandon: abandon.signal },
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      devices: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      'kafka-brokers': { type: 'string' },
      'kafka-dir': { type: 'string' },
      'kafka-port': { type: 'string' },
      'mqtt-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
