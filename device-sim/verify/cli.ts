// `weir verify`: reads the fleet topics back from Kafka and checks them against a `weir sim` report.
// Exit codes: 0 every acknowledged message is in Kafka (with the values sent); 1 acknowledged
// messages are missing or differ; 2 usage errors or an unreadable report; 3 Kafka could not be read
// to the end (unreachable, or the time limit was hit while records were missing).
import process from 'node:process';
import { parseArgs } from 'node:util';
import { WeirError } from '../../gateway/errors.ts';
import { FLEET_NAMES, type FleetName, isFleetName } from '../fleets/fleet.ts';
import { kafkaClient, prepareAppendTimeTopics, withAdmin } from '../kafka.ts';
import { DEFAULT_REPORT } from '../options.ts';
import { formatCount, parseDuration } from '../parse.ts';
import { ReportError, readReport } from '../report.ts';
import { formatResult, formatSummary } from './format.ts';
import { resolveTargets, sampleDevices, TargetError } from './targets.ts';
import { DEFAULT_BROKERS, type VerifyOptions, verifyRun } from './verify.ts';

const HELP = `usage: weir verify [options]

Reads the fleets' Kafka topics back, decodes the Avro records and checks them against the report
of a \`weir sim\` run: per fleet, acknowledged vs received, lost (acknowledged but missing),
duplicates, out-of-order records per device, values that differ from what the device sent, and
latency (receivedAt − ts, and Kafka append time − ts on LogAppendTime topics) p50/p95/p99/max.
Reads up to the end offsets it finds when it starts, so it stops by itself.

options:
  --report FILE           the simulator's report (default ${DEFAULT_REPORT}); repeat it to check
                          several runs into the same topics (e.g. one per site or gateway): each
                          is checked on its own, records of the others count as foreign, and a
                          last line sums them up
  --config FILE           the gateway's config: brokers, routes (topics and schemas), dead-letter topic
  --kafka-brokers LIST    host:port,... (default: the config's, env WEIR_KAFKA_BROKERS, or ${DEFAULT_BROKERS.join(',')})
  --topic FLEET=TOPIC     the Kafka topic of a fleet; repeat or separate with commas
                          (default: the config's routes, else the sample config's topics)
  --deadletter-topic T    where malformed messages go (default: the config's, else weir.deadletter)
  --from run|beginning    read from the run's start (default) or from the beginning of the topics
  --timeout D             give up reading after D (default 2m)
  --wait D                while acknowledged records are missing, look for late ones this long
                          (default 10s; a gateway may still be forwarding from its spool)
  --no-values             do not compare record values with the readings the devices sent
  --json                  print the result as JSON on stdout
  --quiet                 no progress lines
  --prepare-topics        instead: create the fleet topics, or switch existing ones, to
                          message.timestamp.type=LogAppendTime (so verify can measure device → Kafka
                          latency) and exit; run it before the gateway creates the topics
  -h, --help              this help

Exit codes: 0 pass; 1 acknowledged messages missing or different; 2 usage or report errors;
3 Kafka could not be read to the end.
`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export async function verifyCommand(args: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    const parsed = parse(args);
    if (parsed.positionals.length > 0) throw new Error(`unexpected argument '${parsed.positionals[0]}'`);
    values = parsed.values;
  } catch (e) {
    err(`weir verify: ${(e as Error).message}\nRun \`weir verify --help\` for the options.`);
    return 2;
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  const problems: string[] = [];
  const topics: Partial<Record<FleetName, string>> = {};
  for (const item of (values.topic ?? []).flatMap((t) => t.split(','))) {
    const [fleet, topic] = item.split('=').map((s) => s.trim());
    if (fleet === undefined || topic === undefined || topic === '' || !isFleetName(fleet)) {
      problems.push(
        `--topic: expected FLEET=TOPIC with FLEET one of ${FLEET_NAMES.join(', ')}, not '${item}'`,
      );
    } else topics[fleet] = topic;
  }
  const from = values.from ?? 'run';
  if (from !== 'run' && from !== 'beginning') problems.push(`--from must be run or beginning, not '${from}'`);
  const timeoutMs = parseDuration(values.timeout ?? '2m');
  if (timeoutMs === null || timeoutMs <= 0) problems.push(`--timeout: '${values.timeout}' is not a duration`);
  const waitMs = parseDuration(values.wait ?? '10s');
  if (waitMs === null) problems.push(`--wait: '${values.wait}' is not a duration`);
  const brokersText = values['kafka-brokers'] ?? process.env['WEIR_KAFKA_BROKERS'];
  const brokers = brokersText
    ?.split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers !== undefined && (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d{1,5}$/.test(b)))) {
    problems.push(`--kafka-brokers: expected host:port[,host:port…], not '${brokersText}'`);
  }
  if (problems.length > 0) {
    for (const p of problems) err(`weir verify: ${p}`);
    return 2;
  }

  if (values['prepare-topics']) return prepareTopics(values.config, topics, brokers);

  const reports: Array<Awaited<ReturnType<typeof readReport>>> = [];
  try {
    for (const file of values.report ?? [DEFAULT_REPORT]) reports.push(await readReport(file));
  } catch (e) {
    if (e instanceof ReportError) {
      err(`weir verify: ${e.message} [${e.code}]`);
      return 2;
    }
    throw e;
  }
  const opts: VerifyOptions = {
    brokers,
    configPath: values.config,
    topics,
    deadLetterTopic: values['deadletter-topic'],
    from: from as VerifyOptions['from'],
    timeoutMs: timeoutMs!,
    waitMs: waitMs!,
    integrity: !values['no-values'],
  };
  const tty = process.stderr.isTTY === true;
  try {
    const results = [];
    for (const report of reports) {
      const result = await verifyRun(report, opts, {
        ...(!values.quiet && {
          progress: ({ read, total, phase }) => {
            const pct = total > 0 ? Math.floor((100 * read) / total) : 100;
            const line = `weir verify: ${phase} ${formatCount(read)} of ${formatCount(total)} records (${pct}%)`;
            if (tty) process.stderr.write(`\r${line}\u001b[K`);
            else err(line);
          },
        }),
      });
      if (tty && !values.quiet) process.stderr.write('\n');
      results.push(result);
      if (!values.json) {
        if (results.length > 1) out('');
        for (const line of formatResult(result)) out(line);
      }
    }
    if (values.json) out(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
    else if (results.length > 1) out(`\n${formatSummary(results)}`);
    return Math.max(...results.map((r) => r.exitCode));
  } catch (e) {
    if (tty && !values.quiet) process.stderr.write('\n');
    if (isSetupError(e)) {
      err(`weir verify: ${(e as Error).message}`);
      return 2;
    }
    err(
      `weir verify: cannot read Kafka at ${(brokers ?? DEFAULT_BROKERS).join(',')}: ${(e as Error).message}`,
    );
    return 3;
  }
}

/** Problems with the config or the topics to read: usage errors, not Kafka's. */
function isSetupError(e: unknown): boolean {
  return e instanceof TargetError || (e instanceof WeirError && e.code === 'WEIR_CONFIG_INVALID');
}

async function prepareTopics(
  configPath: string | undefined,
  topics: Partial<Record<FleetName, string>>,
  brokers: string[] | undefined,
): Promise<number> {
  let targets: ReturnType<typeof resolveTargets>;
  try {
    targets = resolveTargets(sampleDevices(), { configPath, topics });
  } catch (e) {
    err(`weir verify: ${(e as Error).message}`);
    return 2;
  }
  const kafka = kafkaClient(
    brokers ?? targets.configBrokers ?? DEFAULT_BROKERS,
    'weir-verify',
    targets.configSecurity,
  );
  try {
    const done = await withAdmin(kafka, (admin) =>
      prepareAppendTimeTopics(
        admin,
        targets.fleets.map((t) => t.topic),
      ),
    );
    for (const t of done)
      out(
        `${t.topic}: ${t.action === 'unchanged' ? 'already LogAppendTime' : `${t.action} (LogAppendTime)`}`,
      );
    return 0;
  } catch (e) {
    err(`weir verify: cannot prepare the topics: ${(e as Error).message}`);
    return 3;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      report: { type: 'string', multiple: true },
      config: { type: 'string' },
      'kafka-brokers': { type: 'string' },
      topic: { type: 'string', multiple: true },
      'deadletter-topic': { type: 'string' },
      from: { type: 'string' },
      timeout: { type: 'string' },
      wait: { type: 'string' },
      'no-values': { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'prepare-topics': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
