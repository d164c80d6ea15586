// The gateway for benchmarks: what `weir start --config FILE` runs (startGateway), with the option
// of the blackhole sink in place of Kafka (GatewayOptions.sink) and free ports reported back.
// Prints one JSON line `{"benchReady": {"mqttPort", "httpPort", "pid"}}` when it listens; on
// SIGTERM stops in order (stop intake, drain, close) and exits.
//
//   node benchmarks/servers/weir-gateway.ts --config FILE [--sink kafka|blackhole] [--log-level L]
import process from 'node:process';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../../gateway/config/load.ts';
import { createLogger } from '../../gateway/log.ts';
import { startGateway } from '../../gateway/main.ts';
import { BlackholeSink } from '../../gateway/sinks/blackhole.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    sink: { type: 'string', default: 'kafka' },
    'log-level': { type: 'string', default: 'warn' },
  },
});
if (values.config === undefined) throw new Error('--config FILE is required');
const loaded = loadConfigFile(values.config);
const log = createLogger(values['log-level']);
const gateway = await startGateway(loaded, {
  log,
  ...(values.sink === 'blackhole' && { sink: new BlackholeSink() }),
});
process.stdout.write(
  `${JSON.stringify({ benchReady: { mqttPort: gateway.mqtt.port, httpPort: gateway.http?.port ?? null, pid: process.pid } })}\n`,
);
process.once('SIGTERM', () => {
  void gateway.stop().then(
    () => {
      log.flush();
      process.exit(0);
    },
    (err: unknown) => {
      log.error({ err }, 'stop failed');
      log.flush();
      process.exit(1);
    },
  );
});
