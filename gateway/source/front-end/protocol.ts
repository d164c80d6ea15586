// MQTT facts the front end needs, for both versions: the reason codes it sends (MQTT 5 §2.4) and
// the CONNACK codes of 3.1.1, topic name rules, and the packets it writes. Acknowledgements
// (PUBACK, PUBREC, PUBCOMP) are written by hand — four or five bytes, the same in both versions
// when the reason is success — because they are per message; everything else is rare and goes
// through mqtt-packet's encoder.
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { LoginRefusal } from './types.ts';

export type ProtocolVersion = 3 | 4 | 5;

/** MQTT 5 reason codes the front end sends. */
export const REASON = {
  success: 0x00,
  noSubscriptionExisted: 0x11,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  clientIdentifierNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetIdentifierNotFound: 0x92,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  topicAliasInvalid: 0x94,
} as const;

/** 3.1.1 CONNACK return codes. */
export const RETURN_CODE_311 = {
  accepted: 0,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** The CONNACK code of a refused login, per version. */
export function connackRefusal(reason: LoginRefusal, version: ProtocolVersion): number {
  if (version === 5) {
    switch (reason) {
      case 'bad_credentials':
        return REASON.badUserNameOrPassword;
      case 'not_authorized':
        return REASON.notAuthorized;
      case 'client_id':
        return REASON.clientIdentifierNotValid;
      case 'busy':
        return REASON.serverBusy;
    }
  }
  switch (reason) {
    case 'bad_credentials':
      return RETURN_CODE_311.badUserNameOrPassword;
    case 'not_authorized':
      return RETURN_CODE_311.notAuthorized;
    case 'client_id':
      return RETURN_CODE_311.identifierRejected;
    case 'busy':
      return RETURN_CODE_311.serverUnavailable;
  }
}

/** First byte of each acknowledgement the front end writes. */
export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBCOMP = 0x70;

/**
 * A topic a device may publish to: not empty, no wildcard, no NUL [MQTT-3.3.2-2, MQTT-4.7.3-1,
 * MQTT-4.7.3-2]. One pass over the characters.
 */
export function validTopicName(topic: string): boolean {
  const n = topic.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 /* # */ || c === 0x2b /* + */ || c === 0) return false;
  }
  return true;
}

/**
 * A topic filter a device may subscribe to: not empty, no NUL, '#' only as the whole last level,
 * '+' only as a whole level [MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.7.3-1].
 */
export function validTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\0')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/**
 * Encodes a packet for a connection of `version` (mqtt-packet's encoder). Only rare packets come
 * here (CONNACK, SUBACK, UNSUBACK), of a few distinct lengths, so mqtt-packet's cache of encoded
 * lengths (each cached length pins an 8 KiB slab of the buffer pool) pins a few slabs at most.
 * Deliveries to subscribers, of any length, are encoded by subscribers.ts instead.
 */
export function encode(packet: Packet, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

/** The Reason String of each DISCONNECT reason the front end sends: the spec's name of the code. */
const DISCONNECT_WORDS: Readonly<Record<number, string>> = {
  [REASON.malformedPacket]: 'malformed packet',
  [REASON.protocolError]: 'protocol error',
  [REASON.serverBusy]: 'server busy',
  [REASON.serverShuttingDown]: 'server shutting down',
  [REASON.keepAliveTimeout]: 'keep alive timeout',
  [REASON.sessionTakenOver]: 'session taken over',
  [REASON.topicAliasInvalid]: 'topic alias invalid',
  [REASON.packetTooLarge]: 'packet too large',
  [REASON.quotaExceeded]: 'quota exceeded',
};

/**
 * A v5 DISCONNECT with a reason code and a Reason String saying it in words (at most 30 bytes).
 * The words are for a device's log, and they keep the reason readable by paho-mqtt (Python, 1.6
 * and 2.x): it reads a DISCONNECT's reason code only from a packet with properties, and without
 * them reports a lost connection (1.6) or a normal disconnection (2.x) instead.
 */
export function disconnectPacket(reason: number): Buffer {
  const words = Buffer.from(DISCONNECT_WORDS[reason] ?? 'disconnected', 'utf8');
  const propertyBytes = 3 + words.length; // identifier 0x1F, a two-byte length, the text
  return Buffer.concat([
    Buffer.from([0xe0, 2 + propertyBytes, reason, propertyBytes, 0x1f, 0, words.length]),
    words,
  ]);
}
