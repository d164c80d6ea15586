// What the commands of the local services (`weir kafka`, `weir registry`) share: a subcommand and
// options, --help, usage errors, integer options, how status and stop are told, and how a failure
// is reported.
// Exit codes: 0 ok, 1 failure, 2 bad usage; status also 3: not running.
import process from 'node:process';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { LocalServiceError } from './service.ts';

/** Bad usage: the command prints it with the usage text and exits 2. */
export class UsageError extends Error {}

/**
 * `args` parsed as `<subcommand> [options]`: the options every service command has (--dir, --port,
 * --heap-mb, -h/--help) and its own `options`.
 */
export function parseCommand<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      'heap-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...options,
    },
  });
}

/**
 * The value of an integer option, undefined when it is absent. A UsageError when `text` is not
 * digits or `fits` refuses it: "`flag` must be an integer `rule`, not 'text'".
 */
export function integerOption(
  flag: string,
  text: string | undefined,
  rule: string,
  fits: (n: number) => boolean,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !fits(n))
    throw new UsageError(`${flag} must be an integer ${rule}, not '${text}'`);
  return n;
}

/** --heap-mb: the JVM's heap, at least 64 MiB. */
export function heapMbOption(text: string | undefined): number | undefined {
  return integerOption('--heap-mb', text, 'of at least 64', (mb) => mb >= 64);
}

/** One `weir <service>` command (`command`, e.g. 'weir kafka'): its output and how it runs. */
export class ServiceCommand {
  readonly command: string;
  readonly usage: string;

  constructor(command: string, usage: string) {
    this.command = command;
    this.usage = usage;
  }

  /** A line of the command's result, on stdout. */
  readonly out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };

  /** A line on stderr, as it is. */
  readonly err = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };

  /** A line on stderr after the command's name: progress, problems. */
  readonly say = (line: string): void => {
    this.err(`${this.command}: ${line}`);
  };

  /**
   * Runs one command line: `parse` reads it (see parseCommand), `subcommand` does the work and
   * returns the exit code. Prints the usage for --help (exit 0) and with a usage error (a parse
   * error, no or more than one subcommand, a UsageError from `subcommand`: exit 2); any other
   * error is reported, with its code and log tail when it is a local service's, and exits 1.
   */
  async run<V extends { help?: boolean | undefined }>(
    parse: () => { values: V; positionals: string[] },
    subcommand: (sub: string, values: V) => Promise<number>,
  ): Promise<number> {
    let parsed: { values: V; positionals: string[] };
    try {
      parsed = parse();
    } catch (e) {
      return this.usageError((e as Error).message);
    }
    if (parsed.values.help) {
      this.out(this.usage);
      return 0;
    }
    const [sub, ...extra] = parsed.positionals;
    if (sub === undefined) return this.usageError('missing subcommand');
    if (extra.length > 0) return this.usageError(`unexpected argument '${extra[0]}'`);
    try {
      return await subcommand(sub, parsed.values);
    } catch (e) {
      if (e instanceof UsageError) return this.usageError(e.message);
      if (e instanceof LocalServiceError) {
        this.say(`${e.message} [${e.code}]`);
        if (e.logTail) this.err(e.logTail.replace(/^/gm, '  | '));
      } else {
        this.say((e as Error).message ?? String(e));
      }
      return 1;
    }
  }

  /**
   * Prints what a status found and gives the exit code: 0 running and answering (`running()` on
   * stdout), 1 running but not answering (on stderr), 3 not running (`notRunning` on stdout).
   */
  status(
    found: { running: boolean; answering: boolean; logFile: string },
    notRunning: string,
    running: () => string,
  ): number {
    if (!found.running) {
      this.out(notRunning);
      return 3;
    }
    const what = running();
    if (!found.answering) {
      this.say(`${what} but not answering; see ${found.logFile}`);
      return 1;
    }
    this.out(what);
    return 0;
  }

  /** Prints "`name` stopped (pid N)", with how, or `notRunning` when nothing ran. */
  stopped(name: string, r: { wasRunning: boolean; pid?: number; killed: boolean }, notRunning: string): void {
    if (!r.wasRunning) this.out(notRunning);
    else this.out(`${name} stopped (pid ${r.pid}${r.killed ? ', killed after the grace period' : ''})`);
  }

  /** Prints a usage error with the usage text; gives exit code 2. */
  usageError(message: string): number {
    this.say(message);
    this.err(this.usage);
    return 2;
  }
}
