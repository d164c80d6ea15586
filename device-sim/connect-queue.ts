// Bounded concurrency for connects: a 2-core machine cannot open 10,000 TLS or even TCP+MQTT
// sessions at once without stalling everything else, and neither can the gateway accept them.
// Connect requests wait in FIFO order; at most `limit` are in progress at a time.

export class ConnectQueue<T> {
  readonly #limit: number;
  readonly #start: (item: T) => boolean;
  readonly #waiting: T[] = [];
  #head = 0;
  #active = 0;

  /**
   * `start` begins a connect and returns true, or returns false when the item no longer needs
   * one; for every true the caller reports the end of the connect with done().
   */
  constructor(limit: number, start: (item: T) => boolean) {
    this.#limit = limit;
    this.#start = start;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  add(item: T): void {
    this.#waiting.push(item);
    this.#pump();
  }

  /** One connect in progress has ended (connected or failed). */
  done(): void {
    this.#active--;
    this.#pump();
  }

  /** Forgets everything still waiting. */
  clear(): void {
    this.#waiting.length = 0;
    this.#head = 0;
  }

  #pump(): void {
    while (this.#active < this.#limit && this.#head < this.#waiting.length) {
      const item = this.#waiting[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting.splice(0, this.#head);
        this.#head = 0;
      }
      this.#active++;
      if (!this.#start(item)) this.#active--;
    }
  }
}
