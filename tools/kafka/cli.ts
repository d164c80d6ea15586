// `weir kafka start|stop|status|fetch`: a local Kafka for development and tests — one node, or a
// cluster of three (`--brokers 3`); `weir kafka install-rdkafka`: the opt-in native client
// (kafka.client: rdkafka).
// Exit codes: 0 ok (status: running), 3 status: not running, 1 failure, 2 bad usage.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RDKAFKA_VERSION } from '../../gateway/sinks/kafka/rdkafka-lib.ts';
import { heapMbOption, integerOption, parseCommand, ServiceCommand } from '../local-service/cli.ts';
import {
  DEFAULT_KAFKA_PORT,
  DEFAULT_KAFKA_VERSION,
  defaultKafkaClusterDir,
  defaultKafkaDir,
  ignoreKafkajsNegativeTimeoutWarnings,
  kafkaStatus,
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

const cli = new ServiceCommand('weir kafka', USAGE);

function parse(args: string[]) {
  return parseCommand(args, {
    'kafka-version': { type: 'string' },
    brokers: { type: 'string' },
    security: { type: 'boolean' },
  });
}

export async function kafkaCommand(args: string[]): Promise<number> {
  ignoreKafkajsNegativeTimeoutWarnings();
  return cli.run(() => parse(args), subcommand);
}

async function subcommand(sub: string, values: ReturnType<typeof parse>['values']): Promise<number> {
  const port = integerOption('--port', values.port, 'between 1 and 65534', (p) => p >= 1 && p <= 65534);
  const heapMb = heapMbOption(values['heap-mb']);
  const nodes = integerOption('--brokers', values.brokers, 'from 1 to 9', (n) => n >= 1 && n <= 9) ?? 1;
  if (nodes > 1 && values.security)
    return cli.usageError('--security is for a single node, not with --brokers');
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

  switch (sub) {
    case 'start': {
      if (nodes > 1 || (values.brokers === undefined && dir !== undefined && clusterDir !== undefined)) {
        const info = await startKafkaCluster({
          dir: dir ?? defaultKafkaClusterDir(),
          nodes: nodes > 1 ? nodes : undefined,
          port,
          version,
          heapMb,
          log: cli.say,
        });
        const verb = info.alreadyRunning
          ? 'already running'
          : `running (ready in ${(info.startMs / 1000).toFixed(1)} s)`;
        cli.out(
          `Kafka ${info.version} cluster of ${info.nodes.length} ${verb} at ${info.brokers} (data in ${info.dir})`,
        );
        for (const n of info.nodes)
          cli.out(`  node ${n.nodeId}  127.0.0.1:${n.port}  pid ${n.pid}  log ${n.logFile}`);
        return 0;
      }
      const p = port ?? DEFAULT_KAFKA_PORT;
      const security = values.security ? { saslPort: p + 2, saslSslPort: p + 3, sslPort: p + 4 } : undefined;
      if (security !== undefined && security.sslPort > 65535) {
        return cli.usageError('--security needs --port of at most 65531 (it uses P+2 to P+4)');
      }
      const info = await startKafka({ dir, port, version, heapMb, security, log: cli.say });
      const verb = info.alreadyRunning ? 'already running' : 'running';
      cli.out(`Kafka ${info.version} ${verb} at ${info.brokers} (pid ${info.pid}, data in ${info.dir})`);
      const s = info.security;
      if (s !== undefined) {
        cli.out(`  SASL_PLAINTEXT ${s.saslBrokers}  (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`);
        cli.out(`  SASL_SSL       ${s.saslSslBrokers}  (the same over TLS)`);
        cli.out(`  SSL            ${s.sslBrokers}  (TLS, client certificate required)`);
        cli.out(`  user ${s.username}, passwordFile ${s.passwordFile}`);
        cli.out(`  caFile ${s.caFile}, certFile ${s.clientCertFile}, keyFile ${s.clientKeyFile}`);
      }
      return 0;
    }
    case 'stop': {
      if (clusterDir !== undefined) {
        const stopped = await stopKafkaCluster({ dir: clusterDir, log: cli.say });
        for (const r of stopped) {
          cli.stopped(`Kafka node ${r.nodeId}`, r, `Kafka node ${r.nodeId} was not running`);
        }
        if (dir !== undefined) return 0;
      }
      const resolvedDir = dir ?? defaultKafkaDir();
      const r = await stopKafka({ dir: resolvedDir, log: cli.say });
      cli.stopped('Kafka', r, `Kafka is not running (data in ${resolvedDir})`);
      return 0;
    }
    case 'status': {
      if (clusterDir !== undefined) {
        const c = await kafkaClusterStatus({ dir: clusterDir });
        const up = c.nodes.filter((n) => n.running && n.answering).length;
        const line = `Kafka ${c.version ?? '?'} cluster at ${c.brokers ?? '?'}: ${up} of ${c.nodes.length} nodes answering (data in ${c.dir})`;
        const running = c.nodes.some((n) => n.running);
        if (up === c.nodes.length) cli.out(line);
        else cli.say(line);
        for (const n of c.nodes) {
          const what = !n.running ? 'not running' : n.answering ? 'answering' : 'running, not answering';
          (up === c.nodes.length ? cli.out : cli.err)(
            `  node ${n.nodeId}  127.0.0.1:${n.port}  ${what}${n.pid !== undefined ? `  pid ${n.pid}` : ''}  log ${n.logFile}`,
          );
        }
        if (dir !== undefined || running) return up === c.nodes.length ? 0 : running ? 1 : 3;
      }
      const s = await kafkaStatus({ dir });
      return cli.status(
        s,
        `Kafka is not running (data in ${s.dir})`,
        () => `Kafka ${s.version ?? '?'} running at ${s.brokers ?? '?'} (pid ${s.pid}, data in ${s.dir})`,
      );
    }
    case 'fetch': {
      const jars = await ensureKafkaJars({ version, log: cli.say });
      cli.out(
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
      return cli.usageError(`unknown subcommand '${sub}'`);
  }
}
