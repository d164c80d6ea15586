// `weir registry start|stop|status|fetch`: a local Confluent-compatible Schema Registry (Apicurio
// Registry from Maven Central) for development and tests.
// Exit codes: 0 ok (status: running), 3 status: not running, 1 failure, 2 bad usage.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { DEFAULT_REGISTRY_VERSION, ensureRegistryDistribution } from './distribution.ts';
import {
  DEFAULT_REGISTRY_PORT,
  defaultRegistryDir,
  LocalRegistryError,
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

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
const progress = (line: string) => err(`weir registry: ${line}`);

function usageError(message: string): number {
  err(`weir registry: ${message}`);
  err(USAGE);
  return 2;
}

const mib = (kib: number | undefined) => (kib === undefined ? '?' : `${Math.round(kib / 1024)} MiB`);

export async function registryCommand(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    return usageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub === undefined) return usageError('missing subcommand');
  if (extra.length > 0) return usageError(`unexpected argument '${extra[0]}'`);

  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      return usageError(`--port must be an integer between 0 and 65535, not '${values.port}'`);
    }
  }
  let heapMb: number | undefined;
  if (values['heap-mb'] !== undefined) {
    heapMb = Number(values['heap-mb']);
    if (!/^\d+$/.test(values['heap-mb']) || heapMb < 64) {
      return usageError(`--heap-mb must be an integer of at least 64, not '${values['heap-mb']}'`);
    }
  }
  const dir = values.dir;
  const version = values['registry-version'];

  try {
    switch (sub) {
      case 'start': {
        const info = await startRegistry({ dir, port, version, heapMb, log: progress });
        const verb = info.alreadyRunning ? 'already running' : `running (answered after ${info.startMs} ms)`;
        out(
          `Apicurio Registry ${info.version} ${verb} at ${info.url} (pid ${info.pid}, state in ${info.dir})`,
        );
        return 0;
      }
      case 'stop': {
        const resolvedDir = dir ?? defaultRegistryDir();
        const r = await stopRegistry({ dir: resolvedDir, log: progress });
        if (!r.wasRunning) out(`the registry is not running (state in ${resolvedDir})`);
        else out(`the registry stopped (pid ${r.pid}${r.killed ? ', killed after the grace period' : ''})`);
        return 0;
      }
      case 'status': {
        const s = await registryStatus({ dir });
        if (!s.running) {
          out(`the registry is not running (state in ${s.dir})`);
          return 3;
        }
        const what = `Apicurio Registry ${s.version ?? '?'} running at ${s.url ?? '?'} (pid ${s.pid}, RSS ${mib(s.rssKib)}, state in ${s.dir})`;
        if (!s.answering) {
          err(`weir registry: ${what} but not answering; see ${s.logFile}`);
          return 1;
        }
        out(what);
        return 0;
      }
      case 'fetch': {
        const d = await ensureRegistryDistribution({ version, log: progress });
        out(`Apicurio Registry ${d.version} ${d.fetched ? 'downloaded to' : 'already in'} ${d.appDir}`);
        return 0;
      }
      default:
        return usageError(`unknown subcommand '${sub}'`);
    }
  } catch (e) {
    if (e instanceof LocalRegistryError) {
      err(`weir registry: ${e.message} [${e.code}]`);
      if (e.logTail) err(e.logTail.replace(/^/gm, '  | '));
    } else {
      err(`weir registry: ${(e as Error).message ?? String(e)}`);
    }
    return 1;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      'registry-version': { type: 'string' },
      'heap-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
