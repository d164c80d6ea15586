// What the device front end is given and what it hands on. The front end serves MQTT 3.1.1 and 5.0
// device connections itself (no broker in between): a device's PUBLISH goes straight to the
// intake, and its PUBACK / PUBREC is written when the intake settles the message.
import type { Logger } from 'pino';
import type { DropReason, InboundMessage, Settle } from '../../contracts.ts';
import type { RateLimitAction, RefusalReason } from '../../metrics.ts';
import type { ConnectionInfo } from '../listeners.ts';

/**
 * A device PUBLISH (or will) as the front end hands it on: the contract's InboundMessage (which
 * has the v5 fields the intake maps to Kafka headers and the expiry) plus what stays local to the
 * front end.
 */
export interface DeviceMessage extends InboundMessage {
  /** v5 payload format indicator: true when the device says the payload is UTF-8 text. */
  readonly payloadIsUtf8?: boolean;
  /** true for a will message (published by the front end for a device that went away). */
  readonly will?: boolean;
}

/** What the front end feeds; gateway/intake's RoutingIntake fits (it takes any InboundMessage). */
export interface DeviceIntake {
  /** See Intake and Settle in contracts.ts: settle late is backpressure, settle(err) means "not safe". */
  accept(msg: DeviceMessage, settle: Settle): void;
}

/** What CONNECT says, for the login check. */
export interface LoginRequest {
  /** As the device sent it ('' when empty). */
  readonly clientId: string;
  readonly clean: boolean;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly protocolVersion: 3 | 4 | 5;
  /** What the transport knows (address, client certificate). */
  readonly connection: ConnectionInfo;
}

/** Why a login is refused; each maps to a CONNACK code of either version (see protocol.ts). */
export type LoginRefusal = 'bad_credentials' | 'not_authorized' | 'client_id' | 'busy';

export type LoginResult =
  | { readonly ok: true; readonly identity: string | null }
  | { readonly ok: false; readonly reason: LoginRefusal };

export interface FrontEndHooks {
  /**
   * Checks a CONNECT; the identity it returns is what every message of the connection carries.
   * Absent: every device is let in without an identity (`auth: none`).
   */
  readonly authenticate?: (login: LoginRequest) => Promise<LoginResult>;
  /** Whether a device may subscribe to `filter`. Absent: every subscription is refused. */
  readonly authorizeSubscribe?: (
    device: { clientId: string; identity: string | null },
    filter: string,
  ) => boolean;
}

/**
 * What a device's connection may do beyond the protocol's own rules. Each is off (unbounded)
 * unless set; the gateway sets them all from `mqtt.limits`.
 */
export interface DeviceLimits {
  /** Open connections at most (all listeners); a stream beyond it is destroyed at once. */
  readonly maxConnections?: number;
  /**
   * Keepalive bounds in seconds (0 = none, accepted only while minKeepaliveSeconds is 0). A 3.1.1
   * CONNECT outside them is closed without CONNACK (3.1.1 has no code for it); a v5 device is
   * accepted and told the nearest allowed value (CONNACK Server Keep Alive).
   */
  readonly minKeepaliveSeconds?: number;
  readonly maxKeepaliveSeconds?: number;
  /** Longest PUBLISH and will topic in UTF-8 bytes, and most levels. */
  readonly maxTopicBytes?: number;
  readonly maxTopicLevels?: number;
  /**
   * PUBLISH packets per second per connection (token bucket of `burst`). `slow`: nothing more is
   * read from the connection until it is back within its rate (nothing refused); `disconnect`:
   * the connection is closed (v5: DISCONNECT 0x97 quota exceeded).
   */
  readonly publishRate?: {
    readonly ratePerSecond: number;
    readonly burst: number;
    readonly whenExceeded: 'slow' | 'disconnect';
  };
}

/**
 * What the front end tells about limits it enforced, for metrics and logs (each optional). Called
 * once per event, never per accepted message.
 */
export interface FrontEndEvents {
  /** A connection refused or closed by a limit. */
  readonly refused?: (reason: RefusalReason) => void;
  /** A message not taken because of a limit (it reaches neither Kafka nor the dead letters). */
  readonly dropped?: (
    reason: Extract<DropReason, 'too_large' | 'topic_too_long' | 'topic_too_many_levels' | 'rate_limited'>,
  ) => void;
  /** A PUBLISH over its connection's rate, and what was done. */
  readonly rateLimited?: (action: RateLimitAction) => void;
  /** A message not delivered to a subscriber that is not reading its socket. */
  readonly subscriberSkipped?: () => void;
  /**
   * A CONNECT the front end refused itself before any `authenticate` hook: a 3.1.1 empty client
   * id without a clean session [MQTT-3.1.3-8].
   */
  readonly loginRefused?: (reason: LoginRefusal, connection: ConnectionInfo) => void;
}

export interface FrontEndOptions {
  readonly intake: DeviceIntake;
  readonly hooks?: FrontEndHooks;
  readonly limits?: DeviceLimits;
  readonly events?: FrontEndEvents;
  readonly log: Logger;
  /** Largest packet accepted, in bytes of remaining length; checked before the body is buffered. */
  readonly maxPacketBytes: number;
  /** A connection that has not sent CONNECT within this time is closed. */
  readonly connectTimeoutMs: number;
  /**
   * A connection whose writes (acknowledgements) have waited unread for this long is closed.
   * While its writes wait, nothing more is read from it either.
   */
  readonly drainTimeoutMs?: number;
  /**
   * v5 Receive Maximum announced in CONNACK: how many QoS 1/2 publishes a device may have
   * unacknowledged. Also the bound on a session's QoS 2 ids received and not yet released
   * (both versions); a QoS 2 publish beyond it is refused (v5 PUBREC 0x97; 3.1.1: closed).
   */
  readonly receiveMaximum?: number;
  /** v5 Topic Alias Maximum announced in CONNACK (0: no aliases). */
  readonly topicAliasMaximum?: number;
  /**
   * Longest a persistent session is kept after its device went away, in seconds. A v5 device
   * asking for more is told this value in CONNACK; a 3.1.1 device with clean session false gets
   * exactly this.
   */
  readonly maxSessionExpirySeconds?: number;
  /** Persistent sessions of absent devices kept at most; beyond it the least recently used goes. */
  readonly maxSessions?: number;
  /**
   * Topic filters one connection may hold; a SUBSCRIBE that would take it beyond closes the
   * connection (v5: DISCONNECT 0x97 quota exceeded).
   */
  readonly maxSubscriptions?: number;
}

export const FRONT_END_DEFAULTS = {
  drainTimeoutMs: 10_000,
  receiveMaximum: 1000,
  topicAliasMaximum: 64,
  maxSessionExpirySeconds: 7 * 24 * 3600,
  maxSessions: 10_000,
  maxSubscriptions: 100,
} as const;

export type ResolvedLimits = Required<Omit<DeviceLimits, 'publishRate'>> & {
  readonly publishRate: NonNullable<DeviceLimits['publishRate']> | null;
};

export type ResolvedOptions = Required<Omit<FrontEndOptions, 'hooks' | 'limits' | 'events'>> & {
  readonly hooks: FrontEndHooks;
  readonly limits: ResolvedLimits;
  readonly events: FrontEndEvents;
};

export function resolveOptions(opts: FrontEndOptions): ResolvedOptions {
  const l = opts.limits ?? {};
  const rate = l.publishRate;
  return {
    ...FRONT_END_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    hooks: opts.hooks ?? {},
    events: opts.events ?? {},
    limits: {
      maxConnections: l.maxConnections ?? Number.POSITIVE_INFINITY,
      minKeepaliveSeconds: l.minKeepaliveSeconds ?? 0,
      maxKeepaliveSeconds: l.maxKeepaliveSeconds ?? 65_535,
      maxTopicBytes: l.maxTopicBytes ?? 65_535,
      maxTopicLevels: l.maxTopicLevels ?? Number.POSITIVE_INFINITY,
      publishRate: rate !== undefined && rate.ratePerSecond > 0 ? rate : null,
    },
  } as ResolvedOptions;
}
