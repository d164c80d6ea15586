// `weir config check FILE` validates a config without starting anything;
// `weir config reference` prints the config reference generated from the schema.
import process from 'node:process';
import { ConfigError, loadConfigFile, overridesFromEnv } from '../config/load.ts';
import { configReference } from '../config/reference.ts';
import { errorMessage } from '../errors.ts';

const HELP = `usage: weir config check FILE     validate a config (exit 0 valid, 2 invalid)
       weir config reference      print the config reference (Markdown)
`;

export async function configCommand(args: string[]): Promise<number> {
  const [sub, file, ...rest] = args;
  if (sub === 'reference' && file === undefined) {
    process.stdout.write(`${configReference()}\n`);
    return 0;
  }
  if (sub === 'check' && file !== undefined && rest.length === 0) {
    try {
      const { config, warnings } = loadConfigFile(file, overridesFromEnv(process.env));
      for (const warning of warnings) process.stderr.write(`${file}: warning: ${warning}\n`);
      process.stdout.write(`${file}: valid (${config.routes.length} routes)\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`${errorMessage(err)}\n`);
      return err instanceof ConfigError ? 2 : 1;
    }
  }
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  process.stderr.write(HELP);
  return 2;
}
