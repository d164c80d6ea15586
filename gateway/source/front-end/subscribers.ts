// Deliveries to subscribers. weir takes messages in; it is not a broker for subscribers. Still, a
// device may subscribe (when the `authorizeSubscribe` hook lets it) and then gets what devices
// publish to topics its filters match — at QoS 0, with no retained messages and no queue: nothing
// is kept for a subscriber that is away or not reading, and a delivery never holds up the
// publisher. A subscriber whose stream has not taken what was written to it yet misses the
// message (`skipped`); the connection's drain timeout ends a subscriber that stops reading.
//
// Only messages the intake has taken are delivered (as aedes did after `authorizePublish`). With
// no subscription at all, which is weir's usual case, the hot path pays one comparison.
// Deliveries are encoded here by hand, once per protocol version per message: mqtt-packet's
// encoder caches the length bytes of every packet length it writes, each pinning an 8 KiB slab
// of Node's buffer pool — up to 128 MiB for deliveries of varied lengths.
import type { ProtocolVersion } from './protocol.ts';

/** A connection that holds subscriptions. */
export interface Subscriber {
  readonly version: ProtocolVersion;
  /** Writes `packet` unless the stream is full; false when the delivery was skipped. */
  deliver(packet: Buffer): boolean;
}

interface Filter {
  readonly levels: readonly string[];
  readonly subscribers: Set<Subscriber>;
}

export class Subscriptions {
  readonly #filters = new Map<string, Filter>();

  /** No subscription is held: nothing to deliver. */
  get empty(): boolean {
    return this.#filters.size === 0;
  }

  add(subscriber: Subscriber, filter: string): void {
    let f = this.#filters.get(filter);
    if (f === undefined) {
      f = { levels: filter.split('/'), subscribers: new Set() };
      this.#filters.set(filter, f);
    }
    f.subscribers.add(subscriber);
  }

  remove(subscriber: Subscriber, filter: string): void {
    const f = this.#filters.get(filter);
    if (f === undefined) return;
    f.subscribers.delete(subscriber);
    if (f.subscribers.size === 0) this.#filters.delete(filter);
  }

  /**
   * Delivers a message to every subscriber with a matching filter (once each, however many of its
   * filters match). Returns how many deliveries were skipped because a subscriber was not reading.
   */
  deliver(topic: string, payload: Buffer): number {
    const levels = topic.split('/');
    const reached = new Set<Subscriber>();
    let skipped = 0;
    const packets: Partial<Record<ProtocolVersion, Buffer>> = {};
    for (const f of this.#filters.values()) {
      if (!filterMatches(f.levels, levels)) continue;
      for (const s of f.subscribers) {
        if (reached.has(s)) continue;
        reached.add(s);
        const v5 = s.version === 5;
        const key: ProtocolVersion = v5 ? 5 : 4;
        let packet = packets[key];
        if (packet === undefined) {
          packet = publishPacket(topic, payload, v5);
          packets[key] = packet;
        }
        if (!s.deliver(packet)) skipped++;
      }
    }
    return skipped;
  }
}

/**
 * Whether a filter (split at '/') matches a topic (split at '/'): '+' is one level, a last '#'
 * is any number of levels including none; wildcards at the start do not match topics beginning
 * with '$' [MQTT-4.7.2-1].
 */
export function filterMatches(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]?.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]!;
    if (f === '#') return true;
    if (i >= topic.length) return false;
    if (f !== '+' && f !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

/** A QoS 0 PUBLISH without properties (v5: a property length of 0). */
export function publishPacket(topic: string, payload: Buffer, v5: boolean): Buffer {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  const remaining = 2 + topicBytes + (v5 ? 1 : 0) + payload.length;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30;
  let at = 1;
  let n = remaining;
  do {
    const digit = n % 128;
    n = Math.floor(n / 128);
    out[at++] = n > 0 ? digit | 0x80 : digit;
  } while (n > 0);
  out.writeUInt16BE(topicBytes, at);
  at += 2;
  at += out.write(topic, at, 'utf8');
  if (v5) out[at++] = 0;
  payload.copy(out, at);
  return out;
}
