// One device connection, MQTT 3.1.1 or 5.0, over any byte stream a listener hands over (TCP, TLS,
// WebSocket). mqtt-packet parses (a plain PUBLISH is read by publish-reader.ts); this file keeps
// the connection's state and answers.
//
// Reads and backpressure: the stream is read one chunk at a time, and the next chunk only when
// every packet of the previous one is done — a PUBLISH is done when the intake settles it. A slow
// intake (a spool waiting for fsync, a full spool) therefore stops reading; the device's TCP
// window fills and it waits. A v5 device is also told Receive Maximum, so a well-behaved one
// stops itself. Nothing is read while the device does not read what is written to it (its
// acknowledgements), so nothing piles up in either direction. Under a publish rate limit with
// `slow`, nothing is read either while the connection is over its rate: what was read is taken,
// then reading waits until the token bucket is out of debt.
// Memory per connection: the chunk being handled, one partial packet (≤ maxPacketBytes, refused
// before it is buffered), the QoS 2 ids of its session (≤ receiveMaximum), its topic aliases
// (≤ topicAliasMaximum), and the acknowledgements of one chunk.
//
// Acknowledgements: PUBACK (QoS 1) and PUBREC (QoS 2) only when `settle` is called without an
// error. settle(err) means the message is not safe: no acknowledgement, and the connection is
// closed so the device sends it again after reconnecting — except a refusal that resending cannot
// change (WEIR_UNAUTHORIZED), which a v5 device is told with reason 0x87 and stays connected.
// Acknowledgements settled together go out in one write.
//
// Wills: weir is an ingestion point, and a will is a message of its device, published by the
// gateway on the device's behalf when the connection ends without DISCONNECT (v5: or with reason
// 0x04). So it goes to the intake like any PUBLISH of that device — same identity, same route and
// authorization, QoS as set, `will: true` — when the connection ends (v5: after its Will Delay
// Interval, unless the device is back by then). Nobody acknowledges it; a settle error is logged.
// It is not published when the gateway itself closes the connection to shut down. A retain flag
// (on a will or a PUBLISH) is ignored: weir keeps no retained messages.
//
// Subscriptions: answered one by one by the `authorizeSubscribe` hook (granted at QoS 0, or
// refused: 3.1.1 0x80, v5 0x87); what a subscriber gets is in subscribers.ts.
//
// Limits (`DeviceLimits`, each reported through `events`): keepalive bounds and will topic at
// CONNECT, topic bytes and levels and the publish rate per PUBLISH, the number of filters per
// SUBSCRIBE. On the hot path that is a few comparisons and a token bucket update.
import type { Duplex } from 'node:stream';
import mqttPacket, {
  type IConnectPacket,
  type IDisconnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
} from 'mqtt-packet';
import type { Settle } from '../../contracts.ts';
import { WeirError } from '../../errors.ts';
import { checkTopic, keepaliveAllowed, TokenBucket } from '../limits.ts';
import type { ConnectionInfo } from '../listeners.ts';
import { AckWriter } from './acks.ts';
import {
  assignClientId,
  connackAccepted,
  connackRefused,
  sessionExpiry,
  type Will,
  willOf,
} from './connect.ts';
import { TopicAliases, v5Fields } from './message.ts';
import {
  connackRefusal,
  disconnectPacket,
  encode,
  type ProtocolVersion,
  PUBACK,
  PUBCOMP,
  PUBREC,
  REASON,
  RETURN_CODE_311,
  validTopicFilter,
  validTopicName,
} from './protocol.ts';
import { PacketReader } from './publish-reader.ts';
import type { Session, SessionStore } from './sessions.ts';
import { PacketSizeGate } from './size-gate.ts';
import type { Subscriber, Subscriptions } from './subscribers.ts';
import type { DeviceMessage, LoginResult, ResolvedOptions } from './types.ts';

/** What a connection needs from the front end it belongs to. */
export interface FrontEndCore {
  readonly options: ResolvedOptions;
  readonly sessions: SessionStore;
  /** Every connection's granted filters, for deliveries. */
  readonly subscriptions: Subscriptions;
  /** Hands a message to the intake (and, once taken, to subscribers). */
  take(msg: DeviceMessage, settle: Settle): void;
  /**
   * Records `conn` as the connection of its client id; an older connection of that id is taken
   * over (closed) and a will waiting for that id is cancelled. `cleanStart`: whether the session
   * starts afresh (then a delayed will of the older connection is still published).
   */
  register(conn: DeviceConnection, cleanStart: boolean): void;
  /** `conn` has closed. */
  unregister(conn: DeviceConnection): void;
  /**
   * Publishes a will after `delayMs` unless a connection of its client id registers before;
   * `expirySeconds` (v5) counts from then.
   */
  scheduleWill(message: DeviceMessage, delayMs: number, expirySeconds: number | undefined): void;
  /** Something worth a debug line (never per message). */
  debug(fields: Record<string, unknown>, what: string): void;
}

const NEW = 0;
const AUTHENTICATING = 1;
const OPEN = 2;
const CLOSED = 3;

/** How long a closing connection may take to flush its last packet before it is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** v5 DISCONNECT reason 0x04: the device asks for its will to be published. */
const DISCONNECT_WITH_WILL = 0x04;
/** SUBACK failure of 3.1.1. */
const SUBACK_FAILURE_311 = 0x80;
/** The longest a connection over its rate waits before it is checked again (its keepalive refreshed). */
const MAX_RATE_PAUSE_MS = 1000;

export class DeviceConnection implements Subscriber {
  readonly #core: FrontEndCore;
  readonly #opts: ResolvedOptions;
  readonly #stream: Duplex;
  readonly info: ConnectionInfo;
  readonly #parser = mqttPacket.parser();
  readonly #reader = new PacketReader(this.#parser, (packet) => this.#onPacket(packet));
  readonly #reading = (): boolean => this.#state !== CLOSED;
  readonly #gate: PacketSizeGate;
  readonly #out: AckWriter;

  #state = NEW;
  version: ProtocolVersion = 4;
  clientId = '';
  identity: string | null = null;
  #session: Session | null = null;
  #sessionExpirySeconds = 0;
  #will: Will | null = null;
  /** Set when the connection ends in a way that keeps the will from being published. */
  #willCancelled = false;
  #aliases: TopicAliases | null = null;
  /** Topic filters granted (nothing is delivered yet; kept for the subscription limit). */
  readonly #subscriptions = new Set<string>();

  /** Packets of the chunk being handled that are not done yet (+1 while it is being parsed). */
  #pending = 0;
  #pumping = false;
  /** Packets that came after CONNECT in the same chunk, while the login is checked. */
  #queued: Packet[] = [];
  /** When the current chunk was read: its messages share it (one clock read per chunk). */
  #readAt = 0;

  #connectTimer: NodeJS.Timeout | null;
  #keepaliveTimer: NodeJS.Timeout | null = null;
  /** The publish rate limit; null without one. */
  readonly #bucket: TokenBucket | null;
  /** Set while reading waits for the connection to be back within its rate. */
  #rateTimer: NodeJS.Timeout | null = null;

  readonly closed: Promise<void>;

  constructor(core: FrontEndCore, stream: Duplex, info: ConnectionInfo) {
    this.#core = core;
    this.#opts = core.options;
    this.#stream = stream;
    this.info = info;
    this.#gate = new PacketSizeGate(this.#opts.maxPacketBytes);
    this.#out = new AckWriter(stream, this.#opts.drainTimeoutMs, () => {
      core.debug({ clientId: this.clientId }, 'device does not read what it is sent');
      this.#destroy();
    });
    this.#parser.on('packet', (packet: Packet) => this.#onPacket(packet));
    this.#parser.on('error', (err: Error) =>
      this.#fail(REASON.malformedPacket, 'malformed packet', { err: err.message }),
    );
    this.closed = new Promise((resolve) => stream.once('close', resolve));
    stream.on('readable', this.#pump);
    stream.on('drain', this.#pump);
    stream.on('end', () => this.#close());
    stream.on('error', (err) => {
      core.debug({ err: err.message, clientId: this.clientId }, 'device stream error');
      this.#destroy();
    });
    stream.once('close', () => this.#onClosed());
    this.#connectTimer = setTimeout(() => {
      core.debug({ connectTimeoutMs: this.#opts.connectTimeoutMs }, 'no CONNECT in time');
      this.#opts.events.refused?.('connect_timeout');
      this.#destroy();
    }, this.#opts.connectTimeoutMs);
    const rate = this.#opts.limits.publishRate;
    this.#bucket = rate === null ? null : new TokenBucket(rate.ratePerSecond, rate.burst, performance.now());
  }

  /** Another connection with this client id has connected: this one ends (v5 reason 0x8E). */
  takeOver(sessionContinues: boolean): void {
    // v5: a will with a delay is not published when the session goes on with the new connection.
    if (sessionContinues && this.#will !== null && this.#will.delayMs > 0) this.#willCancelled = true;
    this.#fail(REASON.sessionTakenOver, 'session taken over');
  }

  /** The gateway is stopping: v5 devices are told (0x8B); no will is published. */
  shutDown(): void {
    this.#willCancelled = true;
    this.#fail(REASON.serverShuttingDown, 'server shutting down');
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────────────

  /** Reads and handles chunks while every packet of the previous chunk is done. */
  readonly #pump = (): void => {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#state !== CLOSED && this.#pending === 0 && !this.#out.stuck) {
      if (this.#bucket !== null && this.#overRate()) break;
      const chunk = this.#stream.read() as Buffer | null;
      if (chunk === null) break;
      this.#keepaliveTimer?.refresh();
      const tooLarge = this.#gate.scan(chunk);
      if (tooLarge >= 0) {
        this.#opts.events.dropped?.('too_large');
        this.#fail(REASON.packetTooLarge, 'packet too large', { bytes: tooLarge });
        break;
      }
      this.#readAt = Date.now();
      this.#pending = 1;
      this.#reader.read(chunk, this.#state === OPEN ? this.version : null, this.#reading);
      this.#pending--;
    }
    this.#pumping = false;
  };

  /**
   * Whether reading waits for the rate limit; when it starts waiting, a timer reads on once the
   * bucket is out of debt (checked at least every second, so the keepalive stays fresh).
   */
  #overRate(): boolean {
    if (this.#rateTimer !== null) return true;
    const wait = this.#bucket!.waitMs(performance.now());
    if (wait <= 0) return false;
    this.#rateTimer = setTimeout(this.#resumeWithinRate, Math.min(wait, MAX_RATE_PAUSE_MS));
    return true;
  }

  readonly #resumeWithinRate = (): void => {
    this.#rateTimer = null;
    // The device is there: it sent what is held back.
    this.#keepaliveTimer?.refresh();
    this.#pump();
  };

  /** A packet is done: the next chunk is read once all of the current one are. */
  #done(): void {
    if (--this.#pending === 0 && !this.#pumping) this.#pump();
  }

  #onPacket(packet: Packet): void {
    if (this.#state === CLOSED) return;
    this.#pending++;
    if (this.#state === AUTHENTICATING) this.#queued.push(packet);
    else if (this.#state === NEW) this.#onFirstPacket(packet);
    else this.#handle(packet);
  }

  #onFirstPacket(packet: Packet): void {
    if (packet.cmd === 'connect') this.#onConnect(packet);
    else this.#fail(null, `${packet.cmd} before CONNECT`); // [MQTT-3.1.0-1]
  }

  #handle(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        this.#onPublish(packet);
        break;
      case 'pubrel':
        this.#onPubrel(packet.messageId!);
        break;
      case 'pingreq':
        this.#out.write(Buffer.from([0xd0, 0]));
        this.#done();
        break;
      case 'subscribe':
        this.#onSubscribe(packet);
        break;
      case 'unsubscribe':
        this.#onUnsubscribe(packet);
        break;
      case 'disconnect':
        this.#onDisconnect(packet);
        break;
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        // weir sends no QoS 1/2 messages; a stray acknowledgement changes nothing.
        this.#done();
        break;
      default:
        // A second CONNECT [MQTT-3.1.0-2], AUTH (enhanced authentication is not offered), or a
        // packet only a server sends.
        this.#fail(REASON.protocolError, `unexpected ${packet.cmd}`);
    }
  }

  // ── CONNECT ────────────────────────────────────────────────────────────────────────────────────

  #onConnect(packet: IConnectPacket): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.version = packet.protocolVersion ?? 4;
    const v5 = this.version === 5;
    const clean = packet.clean !== false;
    const { limits, events } = this.#opts;
    const keepalive = packet.keepalive ?? 0;
    if (!keepaliveAllowed(keepalive, limits.minKeepaliveSeconds, limits.maxKeepaliveSeconds) && !v5) {
      // MQTT 3.1.1 has no CONNACK code for it: closed without CONNACK [MQTT-3.2.2-6]. A v5
      // device is told the keepalive to use instead (CONNACK Server Keep Alive).
      events.refused?.('keepalive');
      this.#fail(null, 'keepalive outside the bounds', { keepalive });
      return;
    }
    if (packet.clientId === '' && !clean && !v5) {
      // [MQTT-3.1.3-8]: a zero-length client id needs a clean session.
      events.loginRefused?.('client_id', this.info);
      this.#refuseConnect(RETURN_CODE_311.identifierRejected, 'empty client id without clean session');
      return;
    }
    const will = packet.will;
    if (will !== undefined && will !== null) {
      if (!validTopicName(will.topic)) {
        this.#refuseConnect(
          v5 ? REASON.topicNameInvalid : RETURN_CODE_311.notAuthorized,
          'invalid will topic',
        );
        return;
      }
      const overLimit = checkTopic(will.topic, limits.maxTopicBytes, limits.maxTopicLevels);
      if (overLimit !== null) {
        events.dropped?.(overLimit);
        if (v5) this.#refuseConnect(REASON.topicNameInvalid, `will ${overLimit}`);
        else this.#fail(null, `will ${overLimit}`);
        return;
      }
    }
    this.#state = AUTHENTICATING;
    const authenticate = this.#opts.hooks.authenticate;
    if (authenticate === undefined) {
      this.#connected(packet, { ok: true, identity: null });
      return;
    }
    authenticate({
      clientId: packet.clientId,
      clean,
      username: packet.username,
      password: packet.password,
      protocolVersion: this.version,
      connection: this.info,
    }).then(
      (result) => this.#connected(packet, result),
      (err: unknown) => {
        this.#core.debug({ err: (err as Error)?.message }, 'login check failed');
        this.#connected(packet, { ok: false, reason: 'busy' });
      },
    );
  }

  #refuseConnect(code: number, why: string): void {
    this.#core.debug({ code, why }, 'CONNECT refused');
    this.#endWith(connackRefused(this.version, code));
  }

  #connected(packet: IConnectPacket, login: LoginResult): void {
    if (this.#state !== AUTHENTICATING) return; // closed while the login was checked
    if (!login.ok) {
      this.#refuseConnect(connackRefusal(login.reason, this.version), login.reason);
      return;
    }
    const opts = this.#opts;
    const clean = packet.clean !== false;
    const assignedClientId = packet.clientId === '' ? assignClientId() : undefined;
    this.clientId = assignedClientId ?? packet.clientId;
    this.identity = login.identity;
    const expiry = sessionExpiry(packet, opts.maxSessionExpirySeconds);
    this.#sessionExpirySeconds = expiry.granted;
    this.#will = willOf(packet, this, expiry.granted);
    if (this.version === 5 && opts.topicAliasMaximum > 0)
      this.#aliases = new TopicAliases(opts.topicAliasMaximum);

    // From here on this is the client id's connection: an older one is taken over.
    this.#core.register(this, clean);
    const { session, present } = this.#core.sessions.open(this.clientId, clean, this);
    this.#session = session;
    this.#state = OPEN;
    const asked = packet.keepalive ?? 0;
    const { minKeepaliveSeconds: min, maxKeepaliveSeconds: max } = opts.limits;
    // Only a v5 device gets here outside the bounds: it is told the nearest allowed value.
    const keepalive = keepaliveAllowed(asked, min, max) ? asked : Math.min(Math.max(asked, min), max);
    this.#out.write(
      connackAccepted(this.version, opts, {
        sessionPresent: present,
        assignedClientId,
        expiry,
        serverKeepAlive: keepalive === asked ? undefined : keepalive,
      }),
    );

    if (keepalive > 0) {
      // [MQTT-3.1.2-24]: one and a half keepalives without a packet close the connection.
      this.#keepaliveTimer = setTimeout(this.#onKeepaliveTimeout, keepalive * 1500);
    }
    const queued = this.#queued;
    this.#queued = [];
    for (const p of queued) {
      if (this.#state !== OPEN) break;
      this.#handle(p);
    }
    this.#done(); // the CONNECT itself
  }

  readonly #onKeepaliveTimeout = (): void => {
    // Not reading because the intake is slow, or data waiting unread: the device is there.
    if (this.#pending > 0 || this.#stream.readableLength > 0 || this.#out.stuck || this.#rateTimer !== null) {
      this.#keepaliveTimer?.refresh();
      return;
    }
    this.#fail(REASON.keepAliveTimeout, 'keep-alive timeout');
  };

  // ── PUBLISH, PUBREL ────────────────────────────────────────────────────────────────────────────

  #onPublish(packet: IPublishPacket): void {
    const qos = packet.qos;
    const id = packet.messageId ?? 0;
    const props = packet.properties;
    let topic = packet.topic;
    if (props?.topicAlias !== undefined) {
      const resolved = this.#aliases?.resolve(topic, props.topicAlias) ?? REASON.topicAliasInvalid;
      if (typeof resolved === 'number') {
        this.#fail(resolved, 'topic alias not valid');
        return;
      }
      topic = resolved;
    }
    if (!validTopicName(topic)) {
      this.#refusePublish(qos, id, REASON.topicNameInvalid, 'topic name not valid');
      return;
    }
    const { limits, events } = this.#opts;
    const overLimit = checkTopic(topic, limits.maxTopicBytes, limits.maxTopicLevels);
    if (overLimit !== null) {
      events.dropped?.(overLimit);
      this.#refusePublish(qos, id, REASON.topicNameInvalid, overLimit);
      return;
    }
    if (this.#bucket !== null && !this.#bucket.take(performance.now())) {
      if (limits.publishRate!.whenExceeded === 'disconnect') {
        events.rateLimited?.('disconnect');
        events.dropped?.('rate_limited');
        this.#fail(REASON.quotaExceeded, 'publish rate exceeded');
        return;
      }
      events.rateLimited?.('slow'); // taken; reading waits (see #overRate)
    }
    const msg: DeviceMessage =
      props === undefined
        ? {
            topic,
            payload: packet.payload as Buffer,
            qos,
            clientId: this.clientId,
            identity: this.identity,
            receivedAt: this.#readAt,
          }
        : {
            topic,
            payload: packet.payload as Buffer,
            qos,
            clientId: this.clientId,
            identity: this.identity,
            receivedAt: this.#readAt,
            ...v5Fields(props, this.#readAt),
          };
    if (qos === 2) this.#onQos2(msg, id);
    else this.#core.take(msg, qos === 1 ? this.#settleQos1(id) : this.#settleQos0);
  }

  readonly #settleQos0: Settle = (err) => this.#settled(err, 0, 0);

  #settleQos1(id: number): Settle {
    return (err) => this.#settled(err, 1, id);
  }

  /**
   * QoS 2, exactly once: an id the session has acknowledged and not seen released was taken
   * already (PUBREC again); an id whose first copy is still being settled waits for it; a new id
   * is taken, and known to the session from then on — whichever connection of the session sends
   * the next copy.
   */
  #onQos2(msg: DeviceMessage, id: number): void {
    const session = this.#session!;
    if (session.unreleased.has(id)) {
      this.#out.ack(PUBREC, id, REASON.success);
      this.#done();
      return;
    }
    const copies = session.settling.get(id);
    if (copies !== undefined) {
      copies.push((err) => this.#settled(err, 2, id));
      return;
    }
    if (session.unreleased.size + session.settling.size >= this.#opts.receiveMaximum) {
      this.#refusePublish(2, id, REASON.quotaExceeded, 'too many QoS 2 messages awaiting PUBREL');
      return;
    }
    const callbacks: Settle[] = [(err) => this.#settled(err, 2, id)];
    session.settling.set(id, callbacks);
    this.#core.take(msg, (err) => {
      if (session.settling.get(id) === callbacks) session.settling.delete(id);
      if (!err) session.unreleased.add(id);
      for (const cb of callbacks) cb(err);
    });
  }

  /** The intake has settled one message of this connection. */
  #settled(err: Error | null | undefined, qos: 0 | 1 | 2, id: number): void {
    if (this.#state !== OPEN) return; // closed meanwhile: the device sends it again
    if (!err) {
      if (qos !== 0) this.#out.ack(qos === 1 ? PUBACK : PUBREC, id, REASON.success);
      this.#done();
      return;
    }
    const code = err instanceof WeirError ? err.code : null;
    if (code === 'WEIR_UNAUTHORIZED' && this.version === 5 && qos !== 0) {
      // Resending cannot change it: the device is told, and goes on.
      this.#out.ack(qos === 1 ? PUBACK : PUBREC, id, REASON.notAuthorized);
      this.#done();
      return;
    }
    const reason =
      code === 'WEIR_UNAUTHORIZED'
        ? REASON.notAuthorized
        : code === 'WEIR_SHUTDOWN'
          ? REASON.serverShuttingDown
          : REASON.serverBusy;
    this.#fail(reason, 'message not taken', { err: err.message });
  }

  /** A publish weir will not take: v5 is told why (QoS 1/2) and stays; 3.1.1 is closed. */
  #refusePublish(qos: number, id: number, reason: number, why: string): void {
    if (this.version !== 5) {
      this.#fail(null, why);
      return;
    }
    this.#core.debug({ clientId: this.clientId, reason, why }, 'publish refused');
    if (qos !== 0) this.#out.ack(qos === 1 ? PUBACK : PUBREC, id, reason);
    this.#done();
  }

  #onPubrel(id: number): void {
    const known = this.#session!.unreleased.delete(id);
    this.#out.ack(
      PUBCOMP,
      id,
      known || this.version !== 5 ? REASON.success : REASON.packetIdentifierNotFound,
    );
    this.#done();
  }

  // ── SUBSCRIBE, UNSUBSCRIBE, DISCONNECT ────────────────────────────────────────────────────────

  #onSubscribe(packet: ISubscribePacket): void {
    if (packet.subscriptions.length === 0) {
      this.#fail(REASON.protocolError, 'SUBSCRIBE without a topic filter'); // [MQTT-3.8.3-3]
      return;
    }
    const allowed = this.#opts.hooks.authorizeSubscribe;
    const v5 = this.version === 5;
    const fresh = new Set(
      packet.subscriptions.map((s) => s.topic).filter((f) => !this.#subscriptions.has(f)),
    );
    if (this.#subscriptions.size + fresh.size > this.#opts.maxSubscriptions) {
      this.#opts.events.refused?.('max_subscriptions');
      this.#fail(REASON.quotaExceeded, 'too many subscriptions');
      return;
    }
    const granted = packet.subscriptions.map(({ topic: filter }) => {
      if (!validTopicFilter(filter)) return v5 ? REASON.topicFilterInvalid : SUBACK_FAILURE_311;
      if (allowed === undefined || !allowed(this, filter))
        return v5 ? REASON.notAuthorized : SUBACK_FAILURE_311;
      this.#subscriptions.add(filter);
      this.#core.subscriptions.add(this, filter);
      return 0; // granted at QoS 0: nothing is ever queued for a subscriber
    });
    this.#out.write(encode({ cmd: 'suback', messageId: packet.messageId!, granted }, this.version));
    this.#done();
  }

  #onUnsubscribe(packet: IUnsubscribePacket): void {
    if (packet.unsubscriptions.length === 0) {
      this.#fail(REASON.protocolError, 'UNSUBSCRIBE without a topic filter'); // [MQTT-3.10.3-2]
      return;
    }
    const granted = packet.unsubscriptions.map((filter) => {
      this.#core.subscriptions.remove(this, filter);
      return this.#subscriptions.delete(filter) ? REASON.success : REASON.noSubscriptionExisted;
    });
    this.#out.write(
      encode(
        this.version === 5
          ? { cmd: 'unsuback', messageId: packet.messageId!, granted }
          : { cmd: 'unsuback', messageId: packet.messageId!, granted: [] },
        this.version,
      ),
    );
    this.#done();
  }

  #onDisconnect(packet: IDisconnectPacket): void {
    if (this.version !== 5 || packet.reasonCode !== DISCONNECT_WITH_WILL) this.#willCancelled = true;
    const expiry = packet.properties?.sessionExpiryInterval;
    // A v5 device may change its session expiry on the way out, but not from 0 [MQTT-3.14.2-2].
    if (expiry !== undefined && this.#sessionExpirySeconds > 0) {
      this.#sessionExpirySeconds = Math.min(expiry, this.#opts.maxSessionExpirySeconds);
    }
    this.#close();
  }

  /** A delivery to this subscriber (subscribers.ts); skipped while the device is not reading. */
  deliver(packet: Buffer): boolean {
    if (this.#state !== OPEN || this.#out.stuck) return false;
    this.#out.write(packet);
    return true;
  }

  // ── closing ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Ends the connection because of `why`. A v5 device that got its CONNACK is told `reason`
   * first (null: nothing is sent); a 3.1.1 device is just closed (it has no DISCONNECT to read).
   */
  #fail(reason: number | null, why: string, fields: Record<string, unknown> = {}): void {
    if (this.#state === CLOSED) return;
    this.#core.debug({ ...fields, clientId: this.clientId, why }, 'closing device connection');
    if (reason !== null && this.version === 5 && this.#state === OPEN)
      this.#endWith(disconnectPacket(reason));
    else this.#destroy();
  }

  /** The device ended (DISCONNECT, end of its stream): what is queued goes out, then the stream ends. */
  #close(): void {
    if (this.#state === CLOSED) return;
    this.#endWith(undefined);
  }

  #endWith(last: Buffer | undefined): void {
    this.#state = CLOSED;
    this.#out.end(last);
    setTimeout(() => this.#destroy(), CLOSE_GRACE_MS).unref();
  }

  #destroy(): void {
    this.#state = CLOSED;
    this.#out.discard();
    if (!this.#stream.destroyed) this.#stream.destroy();
  }

  #onClosed(): void {
    this.#state = CLOSED;
    this.#out.discard();
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    if (this.#keepaliveTimer !== null) clearTimeout(this.#keepaliveTimer);
    if (this.#rateTimer !== null) clearTimeout(this.#rateTimer);
    for (const filter of this.#subscriptions) this.#core.subscriptions.remove(this, filter);
    this.#subscriptions.clear();
    this.#queued = [];
    if (this.#session === null) return; // never got past CONNECT
    this.#core.unregister(this);
    this.#core.sessions.close(this.#session, this, this.#sessionExpirySeconds);
    const will = this.#will;
    if (will !== null && !this.#willCancelled)
      this.#core.scheduleWill(will.message, will.delayMs, will.expirySeconds);
  }
}
