// `weir spool inspect --spool-dir DIR [--json]`: what the spool holds, read-only.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { errorMessage } from '../errors.ts';
import { formatInspection, inspectSpool } from '../spool/disk/inspect.ts';

const HELP = `usage: weir spool inspect --spool-dir DIR [--json]

Prints the spool's segments, the checkpoint (what Kafka has), the records and bytes still
waiting for Kafka, the age of the oldest of them, and any damage found. Changes nothing.
`;

export async function spoolCommand(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    process.stderr.write(`weir spool: ${errorMessage(err)}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const dir = values['spool-dir'];
  if (positionals[0] !== 'inspect' || positionals.length !== 1 || dir === undefined) {
    process.stderr.write(HELP);
    return 2;
  }
  if (!existsSync(dir)) {
    process.stderr.write(`weir spool: no spool directory at ${dir}\n`);
    return 1;
  }
  const inspection = await inspectSpool(dir);
  process.stdout.write(
    `${values.json ? JSON.stringify(inspection, null, 2) : formatInspection(inspection)}\n`,
  );
  return 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      'spool-dir': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
}
