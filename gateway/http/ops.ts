// The operations side, started: the status monitor, which takes a reading of the gateway every
// second (reading.ts), and — with http.enabled — the listener for /metrics, /healthz, /readyz,
// /status and the status page. It is started before the spool opens, so /readyz answers 503
// meanwhile. Nothing of it is on the message path.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { WeirError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Reading } from './assess.ts';
import type { DiskReading } from './disk.ts';
import { type HttpListener, startHttpListener } from './server.ts';
import { StatusMonitor } from './status.ts';
import { weirVersion } from './version.ts';

export interface OpsOptions {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Takes a reading of the gateway (gatewayReading, reading.ts). */
  readonly read: () => Reading;
  /** Probes the spool's disk; undefined without a spool. */
  readonly probeDisk: (() => Promise<DiskReading>) | undefined;
  /** Why Kafka is not reachable, in one sentence; null while it is. */
  readonly kafkaProblem: () => string | null;
}

export interface Ops {
  readonly monitor: StatusMonitor;
  /** null when http.enabled is false. */
  readonly listener: HttpListener | null;
}

/** Starts the monitor and the listener; a port that cannot be had fails with WEIR_HTTP_LISTEN. */
export async function startOps(opts: OpsOptions): Promise<Ops> {
  const { config, log } = opts;
  const monitor = new StatusMonitor({
    gatewayId: config.gatewayId,
    version: weirVersion(),
    windowSeconds: config.http.statusWindowSeconds,
    read: opts.read,
    probeDisk: opts.probeDisk,
    kafkaBrokers: config.kafka.brokers,
    kafkaProblem: opts.kafkaProblem,
  });
  const listener = config.http.enabled
    ? await startHttpListener({
        host: config.http.host,
        port: config.http.port,
        registry: opts.metrics.registry,
        status: () => monitor.status(),
        log,
      }).catch((err: unknown) => {
        throw new WeirError(
          'WEIR_HTTP_LISTEN',
          `cannot listen on ${config.http.host}:${config.http.port} for metrics and status (http.port, --http-port)`,
          { cause: err },
        );
      })
    : null;
  monitor.start();
  return { monitor, listener };
}
