// Follows MQTT framing across socket reads — one type byte, a 1–4 byte remaining length, then the
// body — without keeping any bytes, so a packet's size is known as soon as its length bytes
// arrive: a forged 256 MB length is refused before anything of its body is buffered by the
// parser. Per packet it costs a few comparisons; body bytes are skipped, not scanned.

export class PacketSizeGate {
  readonly #maxBytes: number;
  /** Body bytes of the current packet not yet seen. */
  #skip = 0;
  /** Inside a fixed header: the type byte seen, its length not complete yet. */
  #inHeader = false;
  #length = 0;
  #multiplier = 1;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /**
   * Takes the next read of the stream. Returns the remaining length of the first packet over the
   * limit, or -1 when every length seen so far is within it. A malformed length (more than four
   * bytes) is left to the parser to refuse.
   */
  scan(chunk: Buffer): number {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#skip > 0) {
        const step = Math.min(this.#skip, n - i);
        this.#skip -= step;
        i += step;
        continue;
      }
      if (!this.#inHeader) {
        this.#inHeader = true;
        this.#length = 0;
        this.#multiplier = 1;
        i++;
        continue;
      }
      const b = chunk[i++]!;
      this.#length += (b & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      if ((b & 0x80) !== 0) continue;
      this.#inHeader = false;
      if (this.#length > this.#maxBytes) return this.#length;
      this.#skip = this.#length;
    }
    return -1;
  }
}
