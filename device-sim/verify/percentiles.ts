// Exact percentiles of a growing list of samples (sorted once, at the end).

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export class Samples {
  #data = new Float64Array(1024);
  #n = 0;

  get count(): number {
    return this.#n;
  }

  add(x: number): void {
    if (this.#n === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = x;
  }

  /** Nearest-rank percentiles; null without samples. */
  percentiles(): Percentiles | null {
    if (this.#n === 0) return null;
    const sorted = this.#data.slice(0, this.#n).sort();
    const at = (p: number) => sorted[Math.min(this.#n - 1, Math.max(0, Math.ceil((p / 100) * this.#n) - 1))]!;
    return { count: this.#n, p50: at(50), p95: at(95), p99: at(99), max: sorted[this.#n - 1]! };
  }
}
