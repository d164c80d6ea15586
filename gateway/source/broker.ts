// The source: an embedded aedes 1.x MQTT broker behind the listeners of listeners.ts (TCP, TLS,
// WebSocket). Device traffic is taken inside the process from `authorizePublish` — the hook aedes
// awaits *before* it writes a QoS 1 PUBACK — so the intake decides when a device is acknowledged,
// and a late callback is backpressure: aedes reads nothing more from that connection until every
// packet of the previous read is called back. Logins and subscriptions go through auth.ts.
import type { Readable } from 'node:stream';
import { Aedes, type AuthorizePublishHandler, type Client } from 'aedes';

type PublishPacket = Parameters<AuthorizePublishHandler>[1];
/** aedes 1.x keeps inbound QoS 2 packets in its persistence until PUBREL; its types omit it. */
interface AedesWithPersistence {
  persistence: { incomingGetPacket(client: Client, packet: { messageId: number }): Promise<unknown> };
}

import type { Logger } from 'pino';
import type { Intake, Settle } from '../contracts.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { type SourceSecurity, securityHooks } from './auth.ts';
import { type ConnectionInfo, type Listener, type ListenerSpec, startListeners } from './listeners.ts';

export interface BrokerOptions {
  readonly listeners: readonly ListenerSpec[];
  readonly security: SourceSecurity;
  readonly maxPacketBytes: number;
  readonly connectTimeoutMs: number;
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
  /** Publishes of each client handed to the intake and not yet called back. */
  const pending = new WeakMap<Client, { count: number }>();
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
    const state = pending.get(client);
    if (state !== undefined) state.count++;
    const settle: Settle = (err) => {
      if (state !== undefined) state.count--;
      callback(err ?? null);
    };
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

  const broker = await Aedes.createBroker({
    authorizePublish,
    preConnect: hooks.preConnect,
    authenticate: hooks.authenticate,
    authorizeSubscribe: hooks.authorizeSubscribe,
    connectTimeout: opts.connectTimeoutMs,
  });

  const logClientError = rateLimited(10_000, (suppressed) => log.debug({ suppressed }, 'client errors'));
  broker.on('clientError', (_client: Client, err: Error) => {
    log.debug({ err: err.message }, 'client error');
    logClientError();
  });

  const logTooLarge = rateLimited(10_000, (suppressed) =>
    log.warn(
      { maxPacketBytes: opts.maxPacketBytes, suppressed },
      'closed a connection that sent a packet over the size limit',
    ),
  );
  /** Every listener's connections take the same path: gated reads and the packet size limit. */
  const handleConnection = (stream: Readable, info: ConnectionInfo) => {
    const client = broker.handle(stream as Parameters<typeof broker.handle>[0]);
    connections.set(client, info);
    const state = { count: 0 };
    pending.set(client, state);
    readOnlyWhenSettled(client, stream, state);
    limitPacketSize(client, opts.maxPacketBytes, () => {
      metrics.dropped.inc({ reason: 'too_large' });
      logTooLarge();
    });
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

/**
 * Backpressure. aedes 1.x dispatches every packet of a socket read concurrently and means to read
 * the next chunk only when all of them are done — but its 'readable' listener calls the same
 * `nextBatch` that packet completions call, and each call counts as one completion. So new data
 * on the socket triggers a read while publishes of the previous chunk still wait for the spool,
 * and a device that keeps sending is read without limit. Here the 'readable' event reaches aedes
 * only while none of this client's publishes is waiting; the completion of the last one makes
 * aedes read on its own. Unread data then stays in the socket: the device sees TCP backpressure.
 */
function readOnlyWhenSettled(client: Client, socket: Readable, state: { count: number }): void {
  const nextBatch = (client as unknown as { _nextBatch: () => void })._nextBatch;
  if (typeof nextBatch !== 'function' || !socket.listeners('readable').includes(nextBatch)) {
    throw new Error('aedes internals changed: cannot gate socket reads (check the aedes version)');
  }
  socket.removeListener('readable', nextBatch);
  socket.on('readable', () => {
    if (state.count === 0) nextBatch();
  });
}

/**
 * aedes 1.x has no maximum packet size for MQTT 3.1.1. mqtt-packet's parser reads the remaining
 * length before it buffers the body, so checking there refuses an oversize packet — or a forged
 * 256 MB length — before any of its body is held in memory. Only that connection is closed.
 */
function limitPacketSize(client: Client, maxBytes: number, onTooLarge: () => void): void {
  const parser = (client as unknown as { _parser: ParserInternals })._parser;
  const parseLength = parser._parseLength;
  parser._parseLength = function (this: ParserInternals): boolean {
    const done = parseLength.call(this);
    if (done && this.packet.length > maxBytes) {
      onTooLarge();
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${maxBytes}`));
      return false;
    }
    return done;
  };
}

interface ParserInternals {
  packet: { length: number };
  _parseLength(this: ParserInternals): boolean;
  _emitError(err: Error): void;
}
