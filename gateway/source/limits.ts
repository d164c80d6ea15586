// Limits on what one MQTT connection may do: the pure parts (a token bucket per connection, the
// topic and keepalive checks). They run for every packet, so they allocate nothing and take
// numbers, not objects; the device front end (front-end/connection.ts) applies them.

/** Why a PUBLISH topic is refused (also metric labels: DropReason). */
export type TopicRefusal = 'topic_too_long' | 'topic_too_many_levels';

/**
 * Checks a topic against the byte and level limits; null when it passes. A UTF-16 code unit is at
 * most 3 bytes of UTF-8 and a topic of n characters has at most n + 1 levels, so common topics
 * pass without being measured or scanned.
 */
export function checkTopic(topic: string, maxBytes: number, maxLevels: number): TopicRefusal | null {
  const n = topic.length;
  if (n > maxBytes) return 'topic_too_long';
  if (n * 3 > maxBytes && Buffer.byteLength(topic, 'utf8') > maxBytes) return 'topic_too_long';
  if (n + 1 > maxLevels) {
    let levels = 1;
    for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) {
      if (++levels > maxLevels) return 'topic_too_many_levels';
    }
  }
  return null;
}

/**
 * Whether a CONNECT's keepalive (seconds) is within bounds. 0 means "no keepalive": accepted only
 * while minSeconds is 0. maxSeconds bounds the other values.
 */
export function keepaliveAllowed(keepalive: number, minSeconds: number, maxSeconds: number): boolean {
  if (keepalive === 0) return minSeconds === 0;
  return keepalive >= minSeconds && keepalive <= maxSeconds;
}

/**
 * A token bucket: `burst` tokens, refilled at `ratePerSecond`. `take` always takes a token and
 * says whether one was there; a bucket taken below zero is in debt, and `waitMs` tells how long
 * until the debt is repaid. That lets a caller admit everything already read from a socket and
 * then hold further reads until the rate is met again — nothing is refused, only delayed.
 * Times are milliseconds from any monotonic clock (performance.now()).
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #perMs: number;
  readonly #burst: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    if (!(ratePerSecond > 0) || !(burst >= 1))
      throw new RangeError('ratePerSecond > 0 and burst >= 1 required');
    this.#perMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
      this.#last = now;
    }
  }

  /** Takes one token; false when none was left (the bucket is now in debt). */
  take(now: number): boolean {
    this.#refill(now);
    this.#tokens -= 1;
    return this.#tokens >= 0;
  }

  /** Milliseconds until the bucket is out of debt; 0 when it is not in debt. */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#perMs);
  }

  /** Tokens available now (negative: debt). */
  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }
}
