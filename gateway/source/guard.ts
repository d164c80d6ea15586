// The connection guard: what every MQTT connection goes through, whichever listener accepted it
// (TCP, TLS, WebSocket). `accept(socket)` counts the connection against `maxConnections`, hands
// it to aedes and fits that aedes client with the limits:
//
//  - packet size: checked when mqtt-packet has read the remaining length, before the body is
//    buffered (a forged 256 MB length costs nothing);
//  - per packet, when mqtt-packet has parsed it and before aedes sees it: CONNECT keepalive
//    bounds and will topic, PUBLISH topic bytes and levels, PUBLISH rate (a token bucket),
//    SUBSCRIBE count; subscriptions are granted at QoS 0;
//  - socket reads: aedes reads the next chunk of a socket only when every packet of the previous
//    chunk is done (that is the backpressure of the spool), and, under `whenExceeded: slow`, only
//    when the connection is back within its rate;
//  - the CONNECT timeout (counted), the drain timeout (aedes closes a connection that does not
//    read what it is sent), and deliveries to subscribers that never hold up the publisher.
//
// A refused packet closes only its own connection. The checks on the hot path (every PUBLISH)
// are a few comparisons and a token bucket update: no allocation, no closure per message.
// This file reaches into aedes 1.2 / mqtt-packet 9 internals; each is checked when a connection
// is set up, so an incompatible upgrade fails loudly instead of silently dropping a limit.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/schema.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { checkTopic, keepaliveAllowed, TokenBucket } from './limits.ts';

export interface GuardOptions {
  readonly maxPacketBytes: number;
  readonly connectTimeoutMs: number;
  readonly limits: LimitsConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Monotonic clock in ms for the rate limit (default performance.now). */
  readonly now?: () => number;
}

export interface ConnectionGuard {
  /**
   * Takes a new connection from any listener: refuses it when `maxConnections` are open (the
   * socket is destroyed, null returned), else hands it to aedes with every limit applied and
   * returns the aedes client.
   */
  accept(socket: Duplex, req?: unknown): Client | null;
  /** Connections accepted and not yet closed. */
  readonly open: number;
}

/** The parts of aedes' Client and mqtt-packet's Parser the guard hooks into. */
interface ClientInternals {
  _parser: ParserInternals;
  _nextBatch: (err?: Error) => void;
  _connectTimer: NodeJS.Timeout | null;
  _keepaliveTimer: NodeJS.Timeout | null;
  _paused: boolean;
  closed: boolean;
  subscriptions: Record<string, unknown>;
  deliver0: (packet: unknown, cb: () => void) => void;
  resume: () => void;
  emit(event: 'error', err: Error): boolean;
}

interface ParsedPacket {
  cmd: string;
  length: number;
  topic?: string;
  keepalive?: number;
  will?: { topic: string } | null;
  subscriptions?: Array<{ topic: string; qos: number }>;
}

interface ParserInternals {
  packet: ParsedPacket;
  _parseLength(this: ParserInternals): boolean;
  _newPacket(this: ParserInternals): boolean;
  _emitError(err: Error): void;
}

const noop = () => {};
/** The longest a slowed connection waits before its keepalive timer is refreshed and it is checked again. */
const MAX_PAUSE_MS = 1000;
/** TCP keepalive on device sockets: finds peers that vanished even when MQTT keepalive is 0. */
const TCP_KEEPALIVE_MS = 60_000;

export function createConnectionGuard(broker: Aedes, opts: GuardOptions): ConnectionGuard {
  const { limits, metrics, log } = opts;
  const now = opts.now ?? (() => performance.now());
  const rate = limits.publishRate;
  const disconnectOverRate = rate.whenExceeded === 'disconnect';
  const refused = metrics.connectionsRefused;
  let open = 0;

  const warn = (what: string, fields: Record<string, unknown> = {}) =>
    rateLimited(10_000, (suppressed) => log.warn({ ...fields, suppressed }, what));
  const logTooMany = warn('refused a connection: maxConnections reached', {
    maxConnections: limits.maxConnections,
  });
  const logTooLarge = warn('closed a connection that sent a packet over the size limit', {
    maxPacketBytes: opts.maxPacketBytes,
  });
  const logTopic = warn('closed a connection that published to a topic over the limits', {
    maxTopicBytes: limits.maxTopicBytes,
    maxTopicLevels: limits.maxTopicLevels,
  });
  const logKeepalive = warn('refused a CONNECT with a keepalive outside the bounds', {
    minKeepaliveSeconds: limits.minKeepaliveSeconds,
    maxKeepaliveSeconds: limits.maxKeepaliveSeconds,
  });
  const logSubscriptions = warn('closed a connection that subscribed to too many topic filters', {
    maxSubscriptions: limits.maxSubscriptions,
  });
  const logConnectTimeout = warn('closed a connection that sent no CONNECT in time', {
    connectTimeoutMs: opts.connectTimeoutMs,
  });
  const logRate = warn('a connection published faster than its rate limit', {
    ratePerSecond: rate.ratePerSecond,
    whenExceeded: rate.whenExceeded,
  });

  function guard(client: ClientInternals, socket: Duplex): void {
    const parser = client._parser;
    const nextBatch = client._nextBatch;
    if (
      typeof parser?._parseLength !== 'function' ||
      typeof parser._newPacket !== 'function' ||
      typeof nextBatch !== 'function' ||
      typeof client.deliver0 !== 'function' ||
      !socket.listeners('readable').includes(nextBatch)
    ) {
      throw new Error('aedes internals changed: cannot apply the MQTT limits (check the aedes version)');
    }
    const bucket = rate.ratePerSecond > 0 ? new TokenBucket(rate.ratePerSecond, rate.burst, now()) : null;
    /** Packets parsed from this socket and not yet done. */
    let inFlight = 0;
    /** Completions held back while the connection is over its rate (slow). */
    let deferred = 0;

    // Packet size: refuse on the remaining length, before the body is buffered.
    const parseLength = parser._parseLength;
    parser._parseLength = function (this: ParserInternals): boolean {
      const done = parseLength.call(this);
      if (done && this.packet.length > opts.maxPacketBytes) {
        metrics.dropped.inc({ reason: 'too_large' });
        logTooLarge();
        this._emitError(
          new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${opts.maxPacketBytes}`),
        );
        return false;
      }
      return done;
    };

    // Each complete packet, before aedes sees it.
    const newPacket = parser._newPacket;
    parser._newPacket = function (this: ParserInternals): boolean {
      const refusal = inspect(this.packet);
      if (refusal !== null) {
        this._emitError(refusal);
        return false;
      }
      inFlight++;
      return newPacket.call(this);
    };

    function inspect(packet: ParsedPacket): Error | null {
      switch (packet.cmd) {
        case 'publish': {
          const topicRefusal = checkTopic(packet.topic!, limits.maxTopicBytes, limits.maxTopicLevels);
          if (topicRefusal !== null) {
            metrics.dropped.inc({ reason: topicRefusal });
            logTopic();
            return new Error(`PUBLISH refused: ${topicRefusal}`);
          }
          if (bucket !== null && !bucket.take(now())) {
            if (disconnectOverRate) {
              metrics.rateLimited.disconnect++;
              metrics.dropped.inc({ reason: 'rate_limited' });
              logRate();
              return new Error('PUBLISH rate limit exceeded');
            }
            metrics.rateLimited.slow++;
            logRate();
          }
          return null;
        }
        case 'connect': {
          if (
            !keepaliveAllowed(packet.keepalive ?? 0, limits.minKeepaliveSeconds, limits.maxKeepaliveSeconds)
          ) {
            // MQTT 3.1.1 has no CONNACK code for it: close without CONNACK [MQTT-3.2.2-6].
            refused.inc({ reason: 'keepalive' });
            logKeepalive();
            return new Error(`keepalive ${packet.keepalive} s is outside the bounds`);
          }
          const will = packet.will;
          if (will !== null && will !== undefined) {
            const topicRefusal = checkTopic(will.topic, limits.maxTopicBytes, limits.maxTopicLevels);
            if (topicRefusal !== null) {
              metrics.dropped.inc({ reason: topicRefusal });
              logTopic();
              return new Error(`CONNECT refused: will ${topicRefusal}`);
            }
          }
          return null;
        }
        case 'subscribe': {
          const subs = packet.subscriptions ?? [];
          if (Object.keys(client.subscriptions).length + subs.length > limits.maxSubscriptions) {
            refused.inc({ reason: 'max_subscriptions' });
            logSubscriptions();
            return new Error('SUBSCRIBE refused: too many subscriptions');
          }
          // weir takes messages in; it does not queue them for subscribers. QoS 0 keeps nothing
          // in memory for a subscriber that is offline or never acknowledges.
          for (const sub of subs) sub.qos = 0;
          return null;
        }
        default:
          return null;
      }
    }

    // Reads: aedes' completions go through `completed`; the socket's 'readable' reaches aedes only
    // when nothing of this connection is in flight or held back.
    client._nextBatch = completed;
    client.resume = function resume() {
      this._paused = false;
      nextBatch(); // not a packet completion: straight to aedes
    };
    socket.removeListener('readable', nextBatch);
    socket.on('readable', () => {
      if (inFlight === 0 && deferred === 0) nextBatch();
    });

    function completed(err?: Error): void {
      if (inFlight > 0) inFlight--;
      if (err) {
        nextBatch(err);
        return;
      }
      if (deferred > 0) {
        deferred++;
        return;
      }
      if (bucket !== null) {
        const wait = bucket.waitMs(now());
        if (wait > 0) {
          deferred = 1;
          setTimeout(resumeWithinRate, Math.min(wait, MAX_PAUSE_MS));
          return;
        }
      }
      nextBatch();
    }

    function resumeWithinRate(): void {
      if (client.closed) return;
      // The device is there: it sent what is held back. Do not let its keepalive expire.
      client._keepaliveTimer?.refresh();
      const wait = bucket!.waitMs(now());
      if (wait > 0) {
        setTimeout(resumeWithinRate, Math.min(wait, MAX_PAUSE_MS));
        return;
      }
      const n = deferred;
      deferred = 0;
      for (let i = 0; i < n; i++) nextBatch();
    }

    // CONNECT timeout: aedes' own timer, replaced by one that is counted (aedes clears it on CONNECT).
    if (client._connectTimer !== null) {
      clearTimeout(client._connectTimer);
      client._connectTimer = setTimeout(() => {
        refused.inc({ reason: 'connect_timeout' });
        logConnectTimeout();
        client.emit('error', new Error(`no CONNECT within ${opts.connectTimeoutMs} ms`));
      }, opts.connectTimeoutMs);
    }

    // Deliveries to a subscriber never hold up the publisher: the publisher's completion does not
    // wait for the subscriber's socket, and a subscriber whose socket is full misses messages.
    const deliver0 = client.deliver0;
    client.deliver0 = (packet, cb) => {
      if (socket.writableNeedDrain) {
        metrics.subscriberSkipped.inc();
      } else {
        deliver0(packet, noop);
      }
      setImmediate(cb);
    };
  }

  return {
    get open() {
      return open;
    },
    accept(socket, req) {
      if (open >= limits.maxConnections) {
        refused.inc({ reason: 'max_connections' });
        logTooMany();
        socket.destroy();
        return null;
      }
      open++;
      socket.once('close', () => open--);
      if (socket instanceof net.Socket) {
        socket.setNoDelay(true);
        socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      }
      const client = broker.handle(socket as net.Socket, req as never);
      guard(client as unknown as ClientInternals, socket);
      return client;
    },
  };
}
