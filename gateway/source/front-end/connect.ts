// What a CONNECT decides, apart from the login: how long the session outlives the connection, the
// will, and the CONNACK — for either protocol version. Pure functions of the packet and options.
import { randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { v5Fields } from './message.ts';
import { encode, type ProtocolVersion, REASON } from './protocol.ts';
import type { DeviceMessage, ResolvedOptions } from './types.ts';

export interface Will {
  /** The will as the intake will get it (receivedAt is set when it is published). */
  readonly message: DeviceMessage;
  readonly delayMs: number;
  /** v5 Message Expiry Interval of the will, counted from when it is published. */
  readonly expirySeconds: number | undefined;
}

/** A client id for a device that sent an empty one (v5 tells it in CONNACK; 3.1.1 never learns it). */
export function assignClientId(): string {
  return `weir-${randomUUID()}`;
}

/**
 * Session expiry in seconds: what the device asked for (v5: its Session Expiry Interval, 0 when
 * absent; 3.1.1: clean session false means "keep it", so the maximum) and what it gets.
 */
export function sessionExpiry(
  packet: IConnectPacket,
  maxSeconds: number,
): { asked: number; granted: number } {
  const clean = packet.clean !== false;
  const asked =
    packet.protocolVersion === 5 ? (packet.properties?.sessionExpiryInterval ?? 0) : clean ? 0 : maxSeconds;
  return { asked, granted: Math.min(asked, maxSeconds) };
}

/** The will of a CONNECT, for the device that logged in; null when it has none. */
export function willOf(
  packet: IConnectPacket,
  device: { clientId: string; identity: string | null },
  sessionExpirySeconds: number,
): Will | null {
  const will = packet.will;
  if (will === undefined || will === null) return null;
  const props = will.properties;
  // v5: published after the will delay, or when the session ends, whichever comes first.
  const delaySeconds = Math.min(props?.willDelayInterval ?? 0, sessionExpirySeconds);
  return {
    delayMs: delaySeconds * 1000,
    expirySeconds: props?.messageExpiryInterval,
    message: {
      topic: will.topic,
      payload: Buffer.isBuffer(will.payload) ? will.payload : Buffer.from(will.payload),
      qos: will.qos ?? 0,
      clientId: device.clientId,
      identity: device.identity,
      receivedAt: 0,
      will: true,
      ...(props !== undefined && v5Fields(props, undefined)),
    },
  };
}

/** The CONNACK that accepts a connection. */
export function connackAccepted(
  version: ProtocolVersion,
  opts: ResolvedOptions,
  o: {
    sessionPresent: boolean;
    assignedClientId: string | undefined;
    expiry: { asked: number; granted: number };
    /** The keepalive the device must use instead of its own (outside the bounds); undefined: its own. */
    serverKeepAlive?: number | undefined;
  },
): Buffer {
  if (version !== 5)
    return encode({ cmd: 'connack', sessionPresent: o.sessionPresent, returnCode: 0 }, version);
  const properties: NonNullable<IConnackPacket['properties']> = {
    receiveMaximum: opts.receiveMaximum,
    // MQTT 5 counts the whole packet (fixed header up to 5 bytes); maxPacketBytes the remaining length.
    maximumPacketSize: opts.maxPacketBytes + 5,
    topicAliasMaximum: opts.topicAliasMaximum,
    subscriptionIdentifiersAvailable: false,
    sharedSubscriptionAvailable: false,
  };
  if (o.assignedClientId !== undefined) properties.assignedClientIdentifier = o.assignedClientId;
  if (o.serverKeepAlive !== undefined) properties.serverKeepAlive = o.serverKeepAlive;
  // Told only when it differs from what the device asked for; the value CONNACK gives is the one that holds.
  if (o.expiry.asked !== o.expiry.granted) properties.sessionExpiryInterval = o.expiry.granted;
  return encode(
    { cmd: 'connack', sessionPresent: o.sessionPresent, reasonCode: REASON.success, properties },
    5,
  );
}

/** The CONNACK that refuses a connection with `code` (a 3.1.1 return code or a v5 reason code). */
export function connackRefused(version: ProtocolVersion, code: number): Buffer {
  return encode(
    version === 5
      ? { cmd: 'connack', sessionPresent: false, reasonCode: code }
      : { cmd: 'connack', sessionPresent: false, returnCode: code },
    version,
  );
}
