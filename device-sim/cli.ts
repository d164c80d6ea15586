// `weir sim`: runs device fleets against an MQTT broker (normally weir's) and writes a report.
// Exit codes: 0 every device connected and every QoS 1/2 message acknowledged; 1 otherwise;
// 2 usage errors. First Ctrl-C: stop publishing, wait for acknowledgements, report. Second: give up
// waiting and report.
import { randomBytes, randomInt } from 'node:crypto';
import path from 'node:path';
import process from 'node:process';
import { SIM_HELP } from './help.ts';
import { parseSimArgs, type SimOptions } from './options.ts';
import { formatDuration } from './parse.ts';
import { writeReport } from './report.ts';
import { runSimulation } from './runner.ts';
import { simSummary } from './summary.ts';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export async function simCommand(args: string[]): Promise<number> {
  const parsed = parseSimArgs(args, {
    nowMs: Date.now(),
    randomSeed: randomInt(0, 2 ** 31),
    randomRunId: randomBytes(3).toString('hex'),
    env: process.env,
  });
  if (!parsed.ok) {
    for (const p of parsed.problems) err(`weir sim: ${p}`);
    err('Run `weir sim --help` for the options.');
    return 2;
  }
  if (parsed.help) {
    out(SIM_HELP);
    return 0;
  }
  const opts = parsed.options;
  err(describeRun(opts));

  const stop = new AbortController();
  const abandon = new AbortController();
  const onSignal = () => {
    if (!stop.signal.aborted) {
      err(
        `weir sim: stopping; waiting up to ${formatDuration(opts.drainTimeoutMs)} for acknowledgements (Ctrl-C again to stop now)`,
      );
      stop.abort();
    } else abandon.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { report, ok } = await runSimulation(opts, {
      stop: stop.signal,
      abandon: abandon.signal,
      ...(!opts.quiet && { status: err }),
    });
    const reportPath = path.resolve(opts.reportPath);
    await writeReport(reportPath, report);
    for (const line of simSummary(report)) out(line);
    out(`report: ${reportPath}`);
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function describeRun(o: SimOptions): string {
  const until = [
    o.durationMs !== null ? `for ${formatDuration(o.durationMs)}` : '',
    o.count !== null ? `${o.count} messages per device` : '',
  ].filter((s) => s !== '');
  return (
    `weir sim: ${o.devices} devices → ${o.broker}, QoS ${o.qos}, seed ${o.seed}, ids ${o.idPrefix}-*, ` +
    `${until.length > 0 ? until.join(' or ') : 'until Ctrl-C'}`
  );
}
