// `weir kafka start|stop|status|fetch`: a local Kafka for development and tests — one node, or a
// cluster of three (`--brokers 3`); `weir kafka install-rdkafka`: the opt-in native client
// (kafka.client: rdkafka).
// Exit codes: 0 ok (status: running), 3 status: not running, 1 failure, 2 bad usage.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RDKAFKA_VERSION } from '../../gateway/sinks/kafka/rdkafka-lib.ts';
import {
  DEFAULT_KAFKA_PORT,
  DEFAULT_KAFKA_VERSION,
  defaultKafkaClusterDir,
  defaultKafkaDir,
  ignoreKafkajsNegativeTimeoutWarnings,
  kafkaStatus,
  LocalKafkaError,
  startKafka,
  stopKafka,
} from './local-kafka.ts';
import {
  DEFAULT_CLUSTER_HEAP_MB,
  isClusterDir,
  kafkaClusterStatus,
  startKafkaCluster,
  stopKafkaCluster,
} from './local-kafka-cluster.ts';
import { ensureKafkaJars } from './maven.ts';

const USAGE = `usage: weir kafka <start|stop|status|fetch|install-rdkafka> [options]

  start    start a single-node Kafka (KRaft) on 127.0.0.1 in the background
           (downloads its jars with Maven the first time; needs Java 17+ and mvn);
           with --brokers 3, a cluster of three broker+controller nodes
  stop     stop it (every node of a cluster)
  status   tell whether it runs (exit 0 running — every node of a cluster answering —,
           1 running but not answering / some nodes down, 3 not running)
  fetch    only download the jars into the shared cache (for CI)
  install-rdkafka
           install node-rdkafka ${RDKAFKA_VERSION}, the native client behind kafka.client: rdkafka
           (builds librdkafka from source: a few minutes, ~500 MB; needs a C/C++ toolchain and
           the libraries listed in the README; as root it installs them with apt-get)

options:
  --dir DIR              state dir (default ${defaultKafkaDir()},
                         for a cluster ${defaultKafkaClusterDir()})
  --port P               broker port on 127.0.0.1 (default ${DEFAULT_KAFKA_PORT}; controller uses P+1)
  --brokers N            start: N nodes, each broker and controller (a quorum of N voters);
                         node i uses ports P+2(i-1) and P+2(i-1)+1. With 3 or more, topics are
                         replicated 3 times with min.insync.replicas 2 (default 1: one node)
  --kafka-version V      Kafka version (default ${DEFAULT_KAFKA_VERSION}; 3.9.x works too)
  --heap-mb MB           broker heap for start (default 512, ${DEFAULT_CLUSTER_HEAP_MB} per node of a cluster;
                         1024 for benchmarks)
  --security             start: also open security listeners, for trying kafka.sasl/kafka.tls:
                         SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256/512) on P+2, the same over TLS
                         (SASL_SSL) on P+3, TLS with a client certificate (SSL) on P+4; user
                         'weir', password and certificates made in DIR/security (needs a
                         state dir formatted with it, and openssl)
  -h, --help             show this help
`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
const progress = (line: string) => err(`weir kafka: ${line}`);

function usageError(message: string): number {
  err(`weir kafka: ${message}`);
  err(USAGE);
  return 2;
}

export async function kafkaCommand(args: string[]): Promise<number> {
  ignoreKafkajsNegativeTimeoutWarnings();
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
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65534) {
      return usageError(`--port must be an integer between 1 and 65534, not '${values.port}'`);
    }
  }
  let heapMb: number | undefined;
  if (values['heap-mb'] !== undefined) {
    heapMb = Number(values['heap-mb']);
    if (!/^\d+$/.test(values['heap-mb']) || heapMb < 64) {
      return usageError(`--heap-mb must be an integer of at least 64, not '${values['heap-mb']}'`);
    }
  }
  let nodes = 1;
  if (values.brokers !== undefined) {
    nodes = Number(values.brokers);
    if (!/^\d+$/.test(values.brokers) || nodes < 1 || nodes > 9) {
      return usageError(`--brokers must be an integer from 1 to 9, not '${values.brokers}'`);
    }
    if (nodes > 1 && values.security)
      return usageError('--security is for a single node, not with --brokers');
  }
  const dir = values.dir;
  const version = values['kafka-version'];
  // A cluster's state dir: given and holding a cluster, or the default one when asked for one.
  const clusterDir =
    dir !== undefined
      ? (await isClusterDir(dir))
        ? dir
        : undefined
      : (await isClusterDir(defaultKafkaClusterDir()))
        ? defaultKafkaClusterDir()
        : undefined;

  try {
    switch (sub) {
      case 'start': {
        if (nodes > 1 || (values.brokers === undefined && dir !== undefined && clusterDir !== undefined)) {
          const info = await startKafkaCluster({
            dir: dir ?? defaultKafkaClusterDir(),
            nodes: nodes > 1 ? nodes : undefined,
            port,
            version,
            heapMb,
            log: progress,
          });
          const verb = info.alreadyRunning
            ? 'already running'
            : `running (ready in ${(info.startMs / 1000).toFixed(1)} s)`;
          out(
            `Kafka ${info.version} cluster of ${info.nodes.length} ${verb} at ${info.brokers} (data in ${info.dir})`,
          );
          for (const n of info.nodes)
            out(`  node ${n.nodeId}  127.0.0.1:${n.port}  pid ${n.pid}  log ${n.logFile}`);
          return 0;
        }
        const p = port ?? DEFAULT_KAFKA_PORT;
        const security = values.security
          ? { saslPort: p + 2, saslSslPort: p + 3, sslPort: p + 4 }
          : undefined;
        if (security !== undefined && security.sslPort > 65535) {
          return usageError('--security needs --port of at most 65531 (it uses P+2 to P+4)');
        }
        const info = await startKafka({ dir, port, version, heapMb, security, log: progress });
        const verb = info.alreadyRunning ? 'already running' : 'running';
        out(`Kafka ${info.version} ${verb} at ${info.brokers} (pid ${info.pid}, data in ${info.dir})`);
        const s = info.security;
        if (s !== undefined) {
          out(`  SASL_PLAINTEXT ${s.saslBrokers}  (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`);
          out(`  SASL_SSL       ${s.saslSslBrokers}  (the same over TLS)`);
          out(`  SSL            ${s.sslBrokers}  (TLS, client certificate required)`);
          out(`  user ${s.username}, passwordFile ${s.passwordFile}`);
          out(`  caFile ${s.caFile}, certFile ${s.clientCertFile}, keyFile ${s.clientKeyFile}`);
        }
        return 0;
      }
      case 'stop': {
        if (clusterDir !== undefined) {
          const stopped = await stopKafkaCluster({ dir: clusterDir, log: progress });
          for (const r of stopped) {
            out(
              r.wasRunning
                ? `Kafka node ${r.nodeId} stopped (pid ${r.pid}${r.killed ? ', killed after the grace period' : ''})`
                : `Kafka node ${r.nodeId} was not running`,
            );
          }
          if (dir !== undefined) return 0;
        }
        const resolvedDir = dir ?? defaultKafkaDir();
        const r = await stopKafka({ dir: resolvedDir, log: progress });
        if (!r.wasRunning) out(`Kafka is not running (data in ${resolvedDir})`);
        else out(`Kafka stopped (pid ${r.pid}${r.killed ? ', killed after the grace period' : ''})`);
        return 0;
      }
      case 'status': {
        if (clusterDir !== undefined) {
          const c = await kafkaClusterStatus({ dir: clusterDir });
          const up = c.nodes.filter((n) => n.running && n.answering).length;
          const line = `Kafka ${c.version ?? '?'} cluster at ${c.brokers ?? '?'}: ${up} of ${c.nodes.length} nodes answering (data in ${c.dir})`;
          const running = c.nodes.some((n) => n.running);
          if (up === c.nodes.length) out(line);
          else err(`weir kafka: ${line}`);
          for (const n of c.nodes) {
            const what = !n.running ? 'not running' : n.answering ? 'answering' : 'running, not answering';
            (up === c.nodes.length ? out : err)(
              `  node ${n.nodeId}  127.0.0.1:${n.port}  ${what}${n.pid !== undefined ? `  pid ${n.pid}` : ''}  log ${n.logFile}`,
            );
          }
          if (dir !== undefined || running) return up === c.nodes.length ? 0 : running ? 1 : 3;
        }
        const s = await kafkaStatus({ dir });
        if (!s.running) {
          out(`Kafka is not running (data in ${s.dir})`);
          return 3;
        }
        const what = `Kafka ${s.version ?? '?'} running at ${s.brokers ?? '?'} (pid ${s.pid}, data in ${s.dir})`;
        if (!s.answering) {
          err(`weir kafka: ${what} but not answering; see ${s.logFile}`);
          return 1;
        }
        out(what);
        return 0;
      }
      case 'fetch': {
        const jars = await ensureKafkaJars({ version, log: progress });
        out(
          `Kafka ${jars.version} jars ${jars.fetched ? 'downloaded to' : 'already in'} ${jars.libsDir} (${jars.jars.length} files)`,
        );
        return 0;
      }
      case 'install-rdkafka': {
        const script = fileURLToPath(new URL('../install-rdkafka.sh', import.meta.url));
        const r = spawnSync('bash', [script, RDKAFKA_VERSION], { stdio: 'inherit' });
        return r.status === 0 ? 0 : 1;
      }
      default:
        return usageError(`unknown subcommand '${sub}'`);
    }
  } catch (e) {
    if (e instanceof LocalKafkaError) {
      err(`weir kafka: ${e.message} [${e.code}]`);
      if (e.logTail) err(e.logTail.replace(/^/gm, '  | '));
    } else {
      err(`weir kafka: ${(e as Error).message ?? String(e)}`);
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
      'kafka-version': { type: 'string' },
      'heap-mb': { type: 'string' },
      brokers: { type: 'string' },
      security: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
