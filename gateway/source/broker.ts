// The source: an embedded aedes 1.x MQTT broker behind the listeners of listeners.ts (TCP, TLS,
// WebSocket). Device traffic is taken inside the process from `authorizePublish` — the hook aedes
// awaits *before* it writes a QoS 1 PUBACK — so the intake decides when a device is acknowledged,
// and a late callback is backpressure: aedes reads nothing more from that connection until every
// packet of the previous read is called back. Logins and subscriptions go through auth.ts.
import type { Duplex } from 'node:stream';
import { Aedes, type AuthorizePublishHandler, type Client } from 'aedes';

type PublishPacket = Parameters<AuthorizePublishHandler>[1];
/** aedes 1.x keeps inbound QoS 2 packets in its persistence until PUBREL; its types omit it. */
interface AedesWithPersistence {
  persistence: { incomingGetPacket(client: Client, packet: { messageId: number }): Promise<unknown> };
}

import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/schema.ts';
import type { Intake, Settle } from '../contracts.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { type SourceSecurity, securityHooks } from './auth.ts';
import { createConnectionGuard } from './guard.ts';
import { type ConnectionInfo, type Listener, type ListenerSpec, startListeners } from './listeners.ts';
import { prefillPacketLengthCache } from './packet-cache.ts';
import { storeQos2WithoutPayload } from './qos2-store.ts';

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
  /** Stops intake: no new connections, every device disconnected. */
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions): Promise<BrokerSource> {
  const { intake, log, metrics } = opts;
  /** QoS 2 message ids of each client being spooled, with the callbacks of their retransmissions. */
  const qos2InFlight = new WeakMap<Client, Map<number, Settle[]>>();
  /** What the transport said about each client's connection (address, certificate). */
  const connections = new WeakMap<Client, ConnectionInfo>();
  const hooks = securityHooks(opts.security, (client) => connections.get(client), metrics, log);

  const authorizePublish: AuthorizePublishHandler = (client, packet, callback) => {
    // Broker-internal publishes (wills replayed at start-up) have no client.
    if (client === null) return callback(null);
    // weir is an ingestion point, not a message store: a retained flag would make aedes keep
    // every device's last message in memory.
    packet.retain = false;
    const settle: Settle = (err) => callback(err ?? null);
    if (packet.qos === 2 && packet.messageId !== undefined) {
      acceptQos2(client, packet.messageId, packet.dup, (done) => accept(client, packet, done), settle);
    } else {
      accept(client, packet, settle);
    }
  };

  function accept(client: Client, packet: PublishPacket, settle: Settle): void {
    intake.accept(
      {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        qos: packet.qos,
        clientId: client.id,
        identity: hooks.identityOf(client),
        receivedAt: Date.now(),
      },
      settle,
    );
  }

  /**
   * QoS 2 promises no duplicate from a device's retransmissions, but aedes recognises a
   * retransmission only after `authorizePublish`. So: a message id already being spooled waits
   * for the first copy (its PUBREC follows that fsync); a DUP of a message aedes has already
   * stored is acknowledged without being spooled again. Only DUP packets wait for that check, so
   * first transmissions keep their order.
   */
  function acceptQos2(
    client: Client,
    messageId: number,
    dup: boolean,
    spool: (done: Settle) => void,
    settle: Settle,
  ): void {
    let inFlight = qos2InFlight.get(client);
    if (inFlight === undefined) {
      inFlight = new Map();
      qos2InFlight.set(client, inFlight);
    }
    const ids = inFlight;
    const start = () => {
      const copies = ids.get(messageId);
      if (copies !== undefined) {
        copies.push(settle);
        return;
      }
      const callbacks: Settle[] = [settle];
      ids.set(messageId, callbacks);
      spool((err) => {
        ids.delete(messageId);
        for (const cb of callbacks) cb(err);
      });
    };
    if (!dup || ids.has(messageId)) {
      start();
      return;
    }
    (broker as unknown as AedesWithPersistence).persistence.incomingGetPacket(client, { messageId }).then(
      () => settle(null), // already stored by aedes, which sends PUBREC again
      () => start(),
    );
  }

  prefillPacketLengthCache();
  const broker = await Aedes.createBroker({
    authorizePublish,
    preConnect: hooks.preConnect,
    authenticate: hooks.authenticate,
    authorizeSubscribe: hooks.authorizeSubscribe,
    connectTimeout: opts.connectTimeoutMs,
    drainTimeout: opts.limits.drainTimeoutMs,
  });
  storeQos2WithoutPayload(broker);

  const logClientError = rateLimited(10_000, (suppressed) => log.debug({ suppressed }, 'client errors'));
  broker.on('clientError', (_client: Client, err: Error) => {
    log.debug({ err: err.message }, 'client error');
    logClientError();
  });

  // Every listener hands its connections to the guard: connection cap, packet, topic, keepalive
  // and rate limits, and the read gating that turns a slow spool into TCP backpressure.
  const guard = createConnectionGuard(broker, { ...opts, log });
  const handleConnection = (stream: Duplex, info: ConnectionInfo) => {
    const client = guard.accept(stream);
    if (client !== null) connections.set(client, info);
  };
  let listeners: Listener[];
  try {
    listeners = await startListeners(opts.listeners, handleConnection, log);
  } catch (err) {
    // Nothing may keep running after a failed start (the caller reports the error once).
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw err;
  }

  return {
    listeners: listeners.map((l) => ({ transport: l.transport, ...l.address })),
    connectedDevices: () => broker.connectedClients,
    async close() {
      const closed = Promise.all(listeners.map((l) => l.close()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}
