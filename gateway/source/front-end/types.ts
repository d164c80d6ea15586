// What the device front end is given and what it hands on. The front end serves MQTT 3.1.1 and 5.0
// device connections itself (no broker in between): a device's PUBLISH goes straight to the
// intake, and its PUBACK / PUBREC is written when the intake settles the message.
import type { Logger } from 'pino';
import type { InboundMessage, Settle } from '../../contracts.ts';
import type { ConnectionInfo } from '../listeners.ts';

/**
 * A device PUBLISH (or will) as the front end hands it on: the contract's InboundMessage plus
 * what MQTT 5 adds. The optional fields are absent for MQTT 3.1.1 devices and for v5 publishes
 * that do not carry them; they stay local to the front end until the intake maps them to Kafka
 * headers.
 */
export interface DeviceMessage extends InboundMessage {
  /** v5 user properties, as mqtt-packet parses them (a name sent twice has an array of values). */
  readonly userProperties?: Readonly<Record<string, string | string[]>>;
  /** v5 content type (a MIME type, as the device says). */
  readonly contentType?: string;
  /** v5 payload format indicator: true when the device says the payload is UTF-8 text. */
  readonly payloadIsUtf8?: boolean;
  /** v5 message expiry: epoch milliseconds after which the message should not be delivered. */
  readonly expiresAt?: number;
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

export interface FrontEndOptions {
  readonly intake: DeviceIntake;
  readonly hooks?: FrontEndHooks;
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
   * Topic filters one connection may hold; a filter beyond it is refused in SUBACK (3.1.1 0x80,
   * v5 0x97).
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

export type ResolvedOptions = Required<Omit<FrontEndOptions, 'hooks'>> & { readonly hooks: FrontEndHooks };

export function resolveOptions(opts: FrontEndOptions): ResolvedOptions {
  return {
    ...FRONT_END_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    hooks: opts.hooks ?? {},
  } as ResolvedOptions;
}
