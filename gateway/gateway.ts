// What a running gateway offers the command line, the tests and the benchmarks (startGateway in
// main.ts builds one), and what they may change about how it is built.
import type { Logger } from 'pino';
import type { Sink } from './contracts.ts';
import type { GatewayStatus } from './http/status.ts';
import type { Metrics } from './metrics.ts';
import type { BrokerSource } from './source/broker.ts';
import type { DiskSpool } from './spool/disk/spool.ts';

export interface GatewayOptions {
  readonly log: Logger;
  /** Replaces the Kafka sink (benchmarks use the blackhole sink). */
  readonly sink?: Sink;
  /** Backoff bounds of the forwarder; tests shorten them. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How often the schema registry is asked again (out of reach: backoff; refused: pause); tests shorten them. */
  readonly registryRetry?: { readonly initialMs: number; readonly maxMs: number; readonly refusedMs: number };
}

export interface Gateway {
  /** The plain TCP listener (the first listener when plain TCP is off). */
  readonly mqtt: { readonly host: string; readonly port: number };
  /** Every MQTT listener (tcp, tls, websocket) with its bound address. */
  readonly listeners: BrokerSource['listeners'];
  /** The operations listener (metrics, health, status page); null when http.enabled is false. */
  readonly http: { readonly host: string; readonly port: number } | null;
  readonly metrics: Metrics;
  /** What /status answers. */
  status(): GatewayStatus;
  /** The spool, when enabled. */
  readonly spool: DiskSpool | null;
  /**
   * Reads auth.usersFile again; returns the number of devices, or null without a users file.
   * Throws (a WeirError) on a bad file, keeping the logins it had.
   */
  reloadUsers(): number | null;
  /** Stops intake, drains buffered records to Kafka within the drain timeout, closes Kafka. */
  stop(): Promise<{ drained: boolean }>;
}
