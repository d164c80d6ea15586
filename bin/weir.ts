#!/usr/bin/env -S node --max-semi-space-size=4
// weir — one CLI for the gateway and its tools. Each subcommand lives in its own module and
// returns an exit code; this file only dispatches. The shebang caps V8's young generation at 4 MB a
// semi-space, as the systemd unit and the container do: at full load Node's default grows it to
// 32 MB each, about 110 MB more RSS for no measured gain (README Performance, memory).
import process from 'node:process';

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  start: {
    summary: 'run the gateway (weir start --config FILE)',
    load: async () => (await import('../gateway/cli/start.ts')).startCommand,
  },
  config: {
    summary: 'validate a config file or print the config reference (check FILE | reference)',
    load: async () => (await import('../gateway/cli/config.ts')).configCommand,
  },
  sim: {
    summary: 'simulate device fleets publishing over MQTT; writes a report for verify',
    load: async () => (await import('../device-sim/cli.ts')).simCommand,
  },
  verify: {
    summary: "read the fleets' Kafka topics back and check them against a sim report",
    load: async () => (await import('../device-sim/verify/cli.ts')).verifyCommand,
  },
  demo: {
    summary: 'local Kafka + gateway + a mixed fleet for 30 s + verify, all in one',
    load: async () => (await import('../device-sim/demo/cli.ts')).demoCommand,
  },
  passwd: {
    summary: 'add, change or remove a device login in a users file (passwd [--delete] FILE DEVICE_ID)',
    load: async () => (await import('../gateway/cli/passwd.ts')).passwdCommand,
  },
  tail: {
    summary:
      "print a Kafka topic's records decoded (tail TOPIC [--from WHEN] [--key K] [--count N] [--json])",
    load: async () => (await import('../gateway/cli/tail.ts')).tailCommand,
  },
  spool: {
    summary: 'inspect a spool directory (inspect --spool-dir DIR)',
    load: async () => (await import('../gateway/cli/spool.ts')).spoolCommand,
  },
  kafka: {
    summary:
      'a local single-node Apache Kafka for development and tests (start|stop|status|fetch); install-rdkafka: the opt-in native Kafka client',
    load: async () => (await import('../tools/kafka/cli.ts')).kafkaCommand,
  },
  registry: {
    summary: 'a local Confluent-compatible Schema Registry (Apicurio) for development and tests',
    load: async () => (await import('../tools/registry/cli.ts')).registryCommand,
  },
};

function usage(): string {
  const lines = ['usage: weir <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push(
    '',
    'Run `weir <command> --help` for the options of a command; `weir --version` prints the version.',
  );
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    const { weirVersion } = await import('../gateway/http/version.ts');
    process.stdout.write(`weir ${weirVersion()} (Node.js ${process.versions.node})\n`);
    return 0;
  }
  const entry = commands[name];
  if (entry === undefined) {
    process.stderr.write(`weir: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const command = await entry.load();
  return command(rest);
}

const code = await main(process.argv.slice(2));
// Commands that keep running (start) resolve only when they are done; set the code and let the
// event loop end on its own so pending writes flush.
process.exitCode = code;
