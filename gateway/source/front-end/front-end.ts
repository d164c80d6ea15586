// The device front end: weir's own MQTT 3.1.1 + 5.0 server side, in place of a broker. Every
// listener (listeners.ts: TCP, TLS, WebSocket) hands it connected byte streams through `accept`,
// which has the listeners' HandleConnection shape; each becomes a DeviceConnection
// (connection.ts), whose PUBLISHes go straight to the intake — no subscription matching, no
// offline queues, no persistence on the way.
//
// What spans connections lives here: which connection holds each client id (a second CONNECT with
// the same id takes the session over and closes the first: v5 reason 0x8E), the sessions
// (sessions.ts), and wills waiting for their delay. `close` is the first step of shutdown: no
// new connection is served and every device is disconnected (v5 reason 0x8B, server shutting
// down); messages already handed to the intake are the intake's to finish.
import type { Duplex } from 'node:stream';
import type { ConnectionInfo } from '../listeners.ts';
import { DeviceConnection, type FrontEndCore } from './connection.ts';
import { SessionStore } from './sessions.ts';
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

export function createFrontEnd(options: FrontEndOptions): FrontEnd {
  const opts: ResolvedOptions = resolveOptions(options);
  const { intake, log } = opts;

  const sessions = new SessionStore(opts.maxSessions);
  /** Every connection not yet closed, registered or not. */
  const open = new Set<DeviceConnection>();
  /** The connection holding each client id. */
  const byClientId = new Map<string, DeviceConnection>();
  /** Wills waiting for their delay, by client id. */
  const wills = new Map<string, NodeJS.Timeout>();
  let closing = false;

  const publishWill = (message: DeviceMessage, expirySeconds: number | undefined): void => {
    const now = Date.now();
    const msg: DeviceMessage = {
      ...message,
      receivedAt: now,
      ...(expirySeconds !== undefined && { expiresAt: now + expirySeconds * 1000 }),
    };
    intake.accept(msg, (err) => {
      if (err) log.debug({ err: err.message, clientId: msg.clientId }, 'will message not taken');
    });
  };

  const core: FrontEndCore = {
    options: opts,
    sessions,
    register(conn, cleanStart) {
      const timer = wills.get(conn.clientId);
      if (timer !== undefined) {
        clearTimeout(timer);
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
      if (earlier !== undefined) clearTimeout(earlier);
      const timer = setTimeout(() => {
        wills.delete(message.clientId);
        publishWill(message, expirySeconds);
      }, delayMs);
      timer.unref();
      wills.set(message.clientId, timer);
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
      const conn = new DeviceConnection(core, stream, info);
      open.add(conn);
      void conn.closed.then(() => open.delete(conn));
    },
    connectedDevices: () => byClientId.size,
    keptSessions: () => sessions.detachedCount,
    async close() {
      closing = true;
      for (const timer of wills.values()) clearTimeout(timer);
      wills.clear();
      const all = [...open];
      for (const conn of all) conn.shutDown();
      await Promise.all(all.map((c) => c.closed));
    },
  };
}
