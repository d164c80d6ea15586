// The device front end: weir's own MQTT 3.1.1 + 5.0 server side, in place of a broker. Every
// listener (listeners.ts: TCP, TLS, WebSocket) hands it connected byte streams through `accept`,
// which has the listeners' HandleConnection shape; each becomes a DeviceConnection
// (connection.ts), whose PUBLISHes go straight to the intake — no subscription matching, no
// offline queues, no persistence on the way.
//
// What spans connections lives here: how many are open (`maxConnections`: one more is destroyed at
// once, before anything is read), which connection holds each client id (a second CONNECT with
// the same id takes the session over and closes the first: v5 reason 0x8E), the sessions
// (sessions.ts), the subscriptions (subscribers.ts), and wills waiting for their delay. `close` is the first step of shutdown: no
// new connection is served and every device is disconnected (v5 reason 0x8B, server shutting
// down); messages already handed to the intake are the intake's to finish.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Settle } from '../../contracts.ts';
import type { ConnectionInfo } from '../listeners.ts';
import { DeviceConnection, type FrontEndCore } from './connection.ts';
import { SessionStore } from './sessions.ts';
import { Subscriptions } from './subscribers.ts';
import { type DeviceMessage, type FrontEndOptions, type ResolvedOptions, resolveOptions } from './types.ts';

export interface FrontEnd {
  /** Serves one device connection (a listener's HandleConnection). */
  accept(stream: Duplex, info: ConnectionInfo): void;
  /** Devices connected (CONNACK sent, not yet gone). */
  connectedDevices(): number;
  /** Sessions kept for devices that are away. */
  keptSessions(): number;
  /** Stops serving: new streams are closed at once, every connection is closed; resolves when all are. */
  close(): Promise<void>;
}

/** TCP keepalive on device sockets: finds peers that vanished even when MQTT keepalive is 0. */
const TCP_KEEPALIVE_MS = 60_000;

export function createFrontEnd(options: FrontEndOptions): FrontEnd {
  const opts: ResolvedOptions = resolveOptions(options);
  const { intake, log, events } = opts;

  const sessions = new SessionStore(opts.maxSessions);
  const subscriptions = new Subscriptions();
  /** Every connection not yet closed, registered or not. */
  const open = new Set<DeviceConnection>();
  /** The connection holding each client id. */
  const byClientId = new Map<string, DeviceConnection>();
  /**
   * Wills waiting for their delay, by client id, oldest first. At most `maxSessions`: a will's
   * delay ends with its session at the latest, so when there are more, the oldest is published now.
   */
  const wills = new Map<string, { timer: NodeJS.Timeout; publish: () => void }>();
  let closing = false;

  const publishWill = (message: DeviceMessage, expirySeconds: number | undefined): void => {
    const now = Date.now();
    const msg: DeviceMessage = {
      ...message,
      receivedAt: now,
      ...(expirySeconds !== undefined && { expiresAt: now + expirySeconds * 1000 }),
    };
    take(msg, (err) => {
      if (err) log.debug({ err: err.message, clientId: msg.clientId }, 'will message not taken');
    });
  };

  /** To the intake; with subscribers around, a message taken is delivered to them too. */
  function take(msg: DeviceMessage, settle: Settle): void {
    if (subscriptions.empty) {
      intake.accept(msg, settle);
      return;
    }
    intake.accept(msg, (err) => {
      if (!err) {
        const skipped = subscriptions.deliver(msg.topic, msg.payload);
        for (let i = 0; i < skipped; i++) events.subscriberSkipped?.();
      }
      settle(err);
    });
  }

  const core: FrontEndCore = {
    options: opts,
    sessions,
    subscriptions,
    take,
    register(conn, cleanStart) {
      const waiting = wills.get(conn.clientId);
      if (waiting !== undefined) {
        clearTimeout(waiting.timer);
        wills.delete(conn.clientId);
      }
      const older = byClientId.get(conn.clientId);
      byClientId.set(conn.clientId, conn);
      older?.takeOver(!cleanStart);
    },
    unregister(conn) {
      open.delete(conn);
      if (byClientId.get(conn.clientId) === conn) byClientId.delete(conn.clientId);
    },
    scheduleWill(message, delayMs, expirySeconds) {
      if (closing) return;
      if (delayMs <= 0) return publishWill(message, expirySeconds);
      const earlier = wills.get(message.clientId);
      if (earlier !== undefined) clearTimeout(earlier.timer);
      wills.delete(message.clientId);
      const publish = () => {
        wills.delete(message.clientId);
        publishWill(message, expirySeconds);
      };
      const timer = setTimeout(publish, delayMs);
      timer.unref();
      wills.set(message.clientId, { timer, publish });
      if (wills.size > opts.maxSessions) {
        const oldest = wills.values().next().value!;
        clearTimeout(oldest.timer);
        oldest.publish();
      }
    },
    debug(fields, what) {
      log.debug(fields, what);
    },
  };

  return {
    accept(stream, info) {
      if (closing) {
        stream.destroy();
        return;
      }
      if (open.size >= opts.limits.maxConnections) {
        events.refused?.('max_connections');
        stream.destroy();
        return;
      }
      if (stream instanceof net.Socket) stream.setKeepAlive(true, TCP_KEEPALIVE_MS);
      const conn = new DeviceConnection(core, stream, info);
      open.add(conn);
      void conn.closed.then(() => open.delete(conn));
    },
    connectedDevices: () => byClientId.size,
    keptSessions: () => sessions.detachedCount,
    async close() {
      closing = true;
      for (const { timer } of wills.values()) clearTimeout(timer);
      wills.clear();
      const all = [...open];
      for (const conn of all) conn.shutDown();
      await Promise.all(all.map((c) => c.closed));
    },
  };
}
