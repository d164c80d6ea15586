// What a connection writes to its device, in order: acknowledgements (PUBACK, PUBREC, PUBCOMP) are
// queued and go out together in one write per turn of the event loop — the intake settles many
// messages at once (one fsync covers them), so one write carries all their acknowledgements — and
// any other packet is written after the acknowledgements queued before it.
//
// A device that does not read what is written to it: the stream's buffer fills, `stuck` says so
// (the connection then stops reading from it, so nothing more piles up), and after
// `drainTimeoutMs` without a drain `onStuck` is called (the connection closes).
import type { Duplex } from 'node:stream';

export class AckWriter {
  readonly #stream: Duplex;
  readonly #drainTimeoutMs: number;
  readonly #onStuck: () => void;
  #acks = Buffer.allocUnsafe(64);
  #length = 0;
  #flushQueued = false;
  #drainTimer: NodeJS.Timeout | null = null;

  constructor(stream: Duplex, drainTimeoutMs: number, onStuck: () => void) {
    this.#stream = stream;
    this.#drainTimeoutMs = drainTimeoutMs;
    this.#onStuck = onStuck;
    stream.on('drain', () => {
      if (this.#drainTimer !== null) clearTimeout(this.#drainTimer);
      this.#drainTimer = null;
    });
  }

  /** The device has not read what was written to it yet. */
  get stuck(): boolean {
    return this.#stream.writableNeedDrain;
  }

  /**
   * Queues an acknowledgement (`type`: its first byte) of packet `id`: 4 bytes; 5 with a v5 reason
   * code other than success (only ever given to a v5 device).
   */
  ack(type: number, id: number, reason: number): void {
    const size = reason === 0 ? 4 : 5;
    if (this.#length + size > this.#acks.length) {
      const bigger = Buffer.allocUnsafe(this.#acks.length * 2);
      this.#acks.copy(bigger, 0, 0, this.#length);
      this.#acks = bigger;
    }
    const a = this.#acks;
    let at = this.#length;
    a[at++] = type;
    a[at++] = size - 2;
    a[at++] = id >> 8;
    a[at++] = id & 0xff;
    if (size === 5) a[at++] = reason;
    this.#length = at;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  /** Writes the queued acknowledgements now. */
  readonly flush = (): void => {
    this.#flushQueued = false;
    if (this.#length === 0) return;
    const out = Buffer.from(this.#acks.subarray(0, this.#length));
    this.#length = 0;
    this.#send(out);
  };

  /** Writes a packet after the acknowledgements queued before it. */
  write(packet: Buffer): void {
    this.flush();
    this.#send(packet);
  }

  /** Writes `last` (if any) after what is queued and ends the stream. */
  end(last?: Buffer): void {
    this.flush();
    if (!this.#stream.destroyed) this.#stream.end(last);
  }

  /** Forgets what is queued (the stream is being destroyed). */
  discard(): void {
    this.#length = 0;
    if (this.#drainTimer !== null) clearTimeout(this.#drainTimer);
    this.#drainTimer = null;
  }

  #send(bytes: Buffer): void {
    if (this.#stream.destroyed || this.#stream.writableEnded) return;
    if (!this.#stream.write(bytes) && this.#drainTimer === null) {
      this.#drainTimer = setTimeout(this.#onStuck, this.#drainTimeoutMs);
    }
  }
}
