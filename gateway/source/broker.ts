// The source: weir's device front end (front-end/: MQTT 3.1.1 and 5.0) behind the listeners of
// listeners.ts (TCP, TLS, WebSocket). Each device PUBLISH goes straight to the intake, and its
// PUBACK / PUBREC is written when the intake settles it — a late settle is backpressure: nothing
// more is read from that connection until every packet of the previous read is settled. Logins
// and subscriptions go through auth.ts, the limits of `mqtt.limits` are the front end's
// DeviceLimits, and what they refuse is counted by events.ts.
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/schema.ts';
import type { Intake } from '../contracts.ts';
import type { Metrics } from '../metrics.ts';
import { type SourceSecurity, securityHooks } from './auth.ts';
import { limitEvents } from './events.ts';
import { createFrontEnd } from './front-end/front-end.ts';
import { type Listener, type ListenerSpec, startListeners } from './listeners.ts';

export interface BrokerOptions {
  readonly listeners: readonly ListenerSpec[];
  readonly security: SourceSecurity;
  readonly maxPacketBytes: number;
  readonly connectTimeoutMs: number;
  readonly limits: LimitsConfig;
  readonly intake: Intake;
  readonly log: Logger;
  readonly metrics: Metrics;
}

export interface BrokerSource {
  /** Every listener's bound address, in the order of `listeners`. */
  readonly listeners: ReadonlyArray<{
    readonly transport: Listener['transport'];
    readonly host: string;
    readonly port: number;
  }>;
  connectedDevices(): number;
  /** Stops intake: no new connections, every device disconnected (v5: DISCONNECT 0x8B). */
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions): Promise<BrokerSource> {
  const { limits, log, metrics } = opts;
  const { loginRefused, ...hooks } = securityHooks(opts.security, metrics, log);
  const frontEnd = createFrontEnd({
    intake: opts.intake,
    hooks,
    events: { ...limitEvents(opts, metrics, log), loginRefused },
    log,
    maxPacketBytes: opts.maxPacketBytes,
    connectTimeoutMs: opts.connectTimeoutMs,
    drainTimeoutMs: limits.drainTimeoutMs,
    maxSubscriptions: limits.maxSubscriptions,
    limits: {
      maxConnections: limits.maxConnections,
      minKeepaliveSeconds: limits.minKeepaliveSeconds,
      maxKeepaliveSeconds: limits.maxKeepaliveSeconds,
      maxTopicBytes: limits.maxTopicBytes,
      maxTopicLevels: limits.maxTopicLevels,
      publishRate: limits.publishRate,
    },
  });

  let listeners: Listener[];
  try {
    listeners = await startListeners(opts.listeners, (stream, info) => frontEnd.accept(stream, info), log);
  } catch (err) {
    // Nothing may keep running after a failed start (the caller reports the error once).
    await frontEnd.close();
    throw err;
  }

  return {
    listeners: listeners.map((l) => ({ transport: l.transport, ...l.address })),
    connectedDevices: () => frontEnd.connectedDevices(),
    async close() {
      const closed = Promise.all(listeners.map((l) => l.close()));
      await frontEnd.close();
      await closed;
    },
  };
}
