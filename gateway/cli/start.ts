// `weir start --config FILE`: validates the config, runs the gateway until SIGINT/SIGTERM, then
// stops it in order (stop intake, drain to Kafka within shutdown.drainTimeoutMs, close).
// Exit codes: 0 after a clean stop, 1 when the gateway fails while running, 2 when it cannot
// start (usage, config, a port in use, an unusable spool directory, a missing Kafka client): one
// sentence on stderr that names the setting and the fix; the stack only at --log-level debug.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { ConfigError, type ConfigOverrides, loadConfigFile, overridesFromEnv } from '../config/load.ts';
import { LOG_LEVELS } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import { createLogger } from '../log.ts';
import { startGateway } from '../main.ts';
import { spoolDirectory } from '../spool/stage.ts';
import { startupFailure } from './startup-error.ts';

const DEBUG_LEVELS: ReadonlySet<string> = new Set(['debug', 'trace']);

const HELP = `usage: weir start --config FILE [options]

Runs the gateway: an MQTT broker that forwards device messages to Kafka as Avro records.
SIGTERM/SIGINT stop it (draining to Kafka first); SIGHUP reloads auth.usersFile.

options:
  -c, --config FILE          YAML config (see deploy/weir.example.yaml)
      --mqtt-port PORT       overrides mqtt.port            (env WEIR_MQTT_PORT)
      --kafka-brokers LIST   overrides kafka.brokers, comma-separated host:port
                                                            (env WEIR_KAFKA_BROKERS)
      --spool-dir DIR        overrides spool.dir            (env WEIR_SPOOL_DIR)
      --http-port PORT       overrides http.port: metrics, health and the status page
                                                            (env WEIR_HTTP_PORT)
      --log-level LEVEL      overrides log.level (fatal|error|warn|info|debug|trace)
  -h, --help                 this help
`;

export async function startCommand(args: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (err) {
    process.stderr.write(`weir start: ${errorMessage(err)}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.config === undefined) {
    process.stderr.write(`weir start: --config FILE is required\n\n${HELP}`);
    return 2;
  }
  const level = values['log-level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    process.stderr.write(`weir start: --log-level must be one of ${LOG_LEVELS.join(', ')}\n`);
    return 2;
  }
  const env = overridesFromEnv(process.env);
  const overrides: ConfigOverrides = {
    mqttPort: values['mqtt-port'] ?? env.mqttPort,
    kafkaBrokers: values['kafka-brokers'] ?? env.kafkaBrokers,
    spoolDir: values['spool-dir'] ?? env.spoolDir,
    httpPort: values['http-port'] ?? env.httpPort,
  };
  let loaded: ReturnType<typeof loadConfigFile>;
  try {
    loaded = loadConfigFile(values.config, overrides);
  } catch (err) {
    process.stderr.write(`weir start: ${errorMessage(err)}\n`);
    if (!(err instanceof ConfigError) && level !== undefined && DEBUG_LEVELS.has(level)) {
      process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    }
    return 2;
  }

  const log = createLogger(level ?? loaded.config.log.level);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(loaded, { log });
  } catch (err) {
    if (log.isLevelEnabled('debug')) log.fatal({ err }, 'gateway failed to start');
    log.flush();
    const spoolDir = loaded.config.spool.enabled ? spoolDirectory(loaded) : null;
    process.stderr.write(`weir start: ${startupFailure(err, { spoolDir })}\n`);
    return 2;
  }

  // SIGHUP: read auth.usersFile again (weir passwd changed it); a bad file keeps the old logins.
  process.on('SIGHUP', () => {
    try {
      const devices = gateway.reloadUsers();
      if (devices === null) log.warn('SIGHUP: no auth.usersFile to reload');
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'SIGHUP: users file not reloaded; the previous logins stay');
    }
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info({ signal }, 'stopping');
  // A second signal while draining means: stop now.
  const hardStop = () => {
    log.warn('second signal: exiting without waiting for the drain');
    log.flush();
    process.exit(1);
  };
  process.once('SIGINT', hardStop);
  process.once('SIGTERM', hardStop);
  try {
    await gateway.stop();
  } catch (err) {
    log.error({ err }, 'error while stopping');
    log.flush();
    return 1;
  }
  log.flush();
  return 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      'mqtt-port': { type: 'string' },
      'kafka-brokers': { type: 'string' },
      'spool-dir': { type: 'string' },
      'http-port': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
