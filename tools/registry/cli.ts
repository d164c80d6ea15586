// `weir registry start|stop|status|fetch`: a local Confluent-compatible Schema Registry (Apicurio
// Registry from Maven Central) for development and tests.
// Exit codes: 0 ok (status: running), 3 status: not running, 1 failure, 2 bad usage.
import { heapMbOption, integerOption, parseCommand, ServiceCommand } from '../local-service/cli.ts';
import { DEFAULT_REGISTRY_VERSION, ensureRegistryDistribution } from './distribution.ts';
import {
  DEFAULT_REGISTRY_PORT,
  defaultRegistryDir,
  registryStatus,
  startRegistry,
  stopRegistry,
} from './local-registry.ts';

const USAGE = `usage: weir registry <start|stop|status|fetch> [options]

  start    start Apicurio Registry on 127.0.0.1 in the background, in-memory storage
           (downloads it with Maven the first time; needs Java 17+ and mvn); prints the URL
           of its Confluent-compatible API (…/apis/ccompat/v7)
  stop     stop it (its schemas are gone: storage is in memory)
  status   tell whether it runs (exit 0 running, 3 not running)
  fetch    only download and unpack it into the shared cache (for CI)

options:
  --dir DIR                 state dir (default ${defaultRegistryDir()})
  --port P                  port on 127.0.0.1 (default ${DEFAULT_REGISTRY_PORT}; 0 picks a free one)
  --registry-version V      Apicurio Registry version (default ${DEFAULT_REGISTRY_VERSION}, the newest for Java 17)
  --heap-mb MB              maximum heap for start (default 256)
  -h, --help                show this help
`;

const cli = new ServiceCommand('weir registry', USAGE);

const mib = (kib: number | undefined) => (kib === undefined ? '?' : `${Math.round(kib / 1024)} MiB`);

function parse(args: string[]) {
  return parseCommand(args, { 'registry-version': { type: 'string' } });
}

export async function registryCommand(args: string[]): Promise<number> {
  return cli.run(() => parse(args), subcommand);
}

async function subcommand(sub: string, values: ReturnType<typeof parse>['values']): Promise<number> {
  const port = integerOption('--port', values.port, 'between 0 and 65535', (p) => p <= 65535);
  const heapMb = heapMbOption(values['heap-mb']);
  const dir = values.dir;
  const version = values['registry-version'];

  switch (sub) {
    case 'start': {
      const info = await startRegistry({ dir, port, version, heapMb, log: cli.say });
      const verb = info.alreadyRunning ? 'already running' : `running (answered after ${info.startMs} ms)`;
      cli.out(
        `Apicurio Registry ${info.version} ${verb} at ${info.url} (pid ${info.pid}, state in ${info.dir})`,
      );
      return 0;
    }
    case 'stop': {
      const resolvedDir = dir ?? defaultRegistryDir();
      const r = await stopRegistry({ dir: resolvedDir, log: cli.say });
      cli.stopped('the registry', r, `the registry is not running (state in ${resolvedDir})`);
      return 0;
    }
    case 'status': {
      const s = await registryStatus({ dir });
      return cli.status(
        s,
        `the registry is not running (state in ${s.dir})`,
        () =>
          `Apicurio Registry ${s.version ?? '?'} running at ${s.url ?? '?'} (pid ${s.pid}, RSS ${mib(s.rssKib)}, state in ${s.dir})`,
      );
    }
    case 'fetch': {
      const d = await ensureRegistryDistribution({ version, log: cli.say });
      cli.out(`Apicurio Registry ${d.version} ${d.fetched ? 'downloaded to' : 'already in'} ${d.appDir}`);
      return 0;
    }
    default:
      return cli.usageError(`unknown subcommand '${sub}'`);
  }
}
