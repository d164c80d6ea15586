// Brute-force protection: failed logins from one source address make that address wait. The
// delay doubles with each recent failure (base, 2×base, 4×base, … up to a cap) and is forgotten
// after a quiet window. The table is bounded: past `maxAddresses` the address idle the longest
// is forgotten first, so an attacker with many addresses cannot grow memory — at worst, it
// makes weir forget older offenders early.
//
// Waiting is a timer per refused connection, never a blocked event loop: other devices log in
// at full speed meanwhile.

export interface PenaltyOptions {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Failures older than this no longer count. */
  readonly windowMs: number;
  readonly maxAddresses: number;
  readonly now?: () => number;
}

export const DEFAULT_PENALTY: PenaltyOptions = {
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  windowMs: 10 * 60_000,
  maxAddresses: 10_000,
};

interface Entry {
  failures: number;
  lastAt: number;
}

export class LoginPenalty {
  readonly #opts: PenaltyOptions;
  readonly #now: () => number;
  /** Map order is recency order: an address is re-inserted on every failure. */
  readonly #entries = new Map<string, Entry>();

  constructor(opts: PenaltyOptions = DEFAULT_PENALTY) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** How long a login attempt from `address` waits now (0 with no recent failure). */
  delayMs(address: string): number {
    const e = this.#current(address);
    if (e === undefined || e.failures === 0) return 0;
    const { baseDelayMs, maxDelayMs } = this.#opts;
    return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(e.failures - 1, 30));
  }

  /** Records a failed login; returns the delay before its refusal is sent. */
  fail(address: string): number {
    const now = this.#now();
    const e = this.#current(address) ?? { failures: 0, lastAt: now };
    e.failures++;
    e.lastAt = now;
    this.#entries.delete(address);
    this.#entries.set(address, e);
    while (this.#entries.size > this.#opts.maxAddresses) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return this.delayMs(address);
  }

  #current(address: string): Entry | undefined {
    const e = this.#entries.get(address);
    if (e !== undefined && this.#now() - e.lastAt > this.#opts.windowMs) {
      this.#entries.delete(address);
      return undefined;
    }
    return e;
  }
}
