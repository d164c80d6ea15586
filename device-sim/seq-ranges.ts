// A set of positive integers kept as sorted, disjoint, non-adjacent inclusive ranges. Devices
// record the sequence numbers the gateway acknowledged here: acknowledgements nearly always
// arrive in order, so a device that sent 100,000 messages usually holds one range.

/** Inclusive [first, last] pairs, ascending: the form in the report. */
export type SeqRangeList = ReadonlyArray<readonly [number, number]>;

export class SeqSet {
  /** Flat [start0, end0, start1, end1, …]. */
  #r: number[] = [];
  #size = 0;

  static fromRanges(ranges: SeqRangeList): SeqSet {
    const set = new SeqSet();
    for (const [first, last] of ranges) set.addRange(first, last);
    return set;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `n`; returns false when it was already there. */
  add(n: number): boolean {
    const r = this.#r;
    const len = r.length;
    // Fast path: the next number after the last range.
    if (len > 0 && r[len - 1]! + 1 === n) {
      r[len - 1] = n;
      this.#size++;
      return true;
    }
    if (len === 0 || n > r[len - 1]! + 1) {
      r.push(n, n);
      this.#size++;
      return true;
    }
    return this.#insert(n, n) > 0;
  }

  addRange(first: number, last: number): void {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last) {
      throw new RangeError(`invalid range [${first}, ${last}]`);
    }
    this.#insert(first, last);
  }

  has(n: number): boolean {
    const i = this.#find(n);
    return i >= 0;
  }

  /** The highest number, or 0 when empty. */
  max(): number {
    return this.#r.length === 0 ? 0 : this.#r[this.#r.length - 1]!;
  }

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.#r.length; i += 2) out.push([this.#r[i]!, this.#r[i + 1]!]);
    return out;
  }

  *values(): Generator<number> {
    for (let i = 0; i < this.#r.length; i += 2) {
      for (let n = this.#r[i]!; n <= this.#r[i + 1]!; n++) yield n;
    }
  }

  /** Index of the range start holding n, or -1. */
  #find(n: number): number {
    const r = this.#r;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (n < r[2 * mid]!) hi = mid - 1;
      else if (n > r[2 * mid + 1]!) lo = mid + 1;
      else return 2 * mid;
    }
    return -1;
  }

  /** Merges [first, last] in; returns how many numbers were new. */
  #insert(first: number, last: number): number {
    const r = this.#r;
    // First range whose end ≥ first − 1 (could touch or overlap).
    let lo = 0;
    let hi = r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[2 * mid + 1]! < first - 1) lo = mid + 1;
      else hi = mid;
    }
    let start = first;
    let end = last;
    let covered = 0;
    let j = lo;
    while (j < r.length / 2 && r[2 * j]! <= last + 1) {
      const s = r[2 * j]!;
      const e = r[2 * j + 1]!;
      covered += Math.max(0, Math.min(e, last) - Math.max(s, first) + 1);
      start = Math.min(start, s);
      end = Math.max(end, e);
      j++;
    }
    r.splice(2 * lo, 2 * (j - lo), start, end);
    const added = last - first + 1 - covered;
    this.#size += added;
    return added;
  }
}

/** Number of integers in the ranges. */
export function rangesCount(ranges: SeqRangeList): number {
  let n = 0;
  for (const [a, b] of ranges) n += b - a + 1;
  return n;
}

/** Compacts a sorted list of distinct integers into ranges. */
export function toRanges(sorted: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] + 1 === n) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

/** "3, 7–9, 12" (at most `max` ranges, then "… (N more)"). */
export function formatRanges(ranges: SeqRangeList, max = 5): string {
  const shown = ranges.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`));
  const more = ranges.length - shown.length;
  return more > 0 ? `${shown.join(', ')} … (${more} more)` : shown.join(', ');
}
