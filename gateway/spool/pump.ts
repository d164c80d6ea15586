// The pump moves records from the spool into the batcher, in spool order, keeping the batcher's
// memory bound, and marks each record done in the spool when Kafka has acknowledged it. An
// optional byte-rate cap paces the drain for thin uplinks (it applies to live traffic and backlog
// alike: both flow through the spool in order). It sees the spool as a SpoolReader and the
// batcher as a RecordBuffer (contracts.ts).
import type { RecordBuffer, SpoolReader } from '../contracts.ts';

export interface PumpOptions<Entry> {
  readonly spool: SpoolReader<Entry>;
  readonly batcher: RecordBuffer;
  /**
   * The batcher's memory bound as the pump keeps it: it reads no more than fits below it, and
   * refills once it is half empty.
   */
  readonly maxBufferedBytes: number;
  /** 0 = no cap. */
  readonly maxBytesPerSec: number;
}

export class SpoolPump<Entry> {
  readonly #o: PumpOptions<Entry>;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(opts: PumpOptions<Entry>) {
    this.#o = opts;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { spool, batcher, maxBufferedBytes, maxBytesPerSec } = this.#o;
    const refillBelow = Math.max(1, Math.floor(maxBufferedBytes / 2));
    let tokens = 0;
    let lastRefill = performance.now();
    while (this.#running) {
      await this.#until(batcher.whenBelow(refillBelow));
      if (!this.#running) break;
      let budget = maxBufferedBytes - batcher.bufferedBytes;
      if (maxBytesPerSec > 0) {
        const now = performance.now();
        tokens = Math.min(maxBytesPerSec, tokens + ((now - lastRefill) / 1000) * maxBytesPerSec);
        lastRefill = now;
        if (tokens < 1) {
          await this.#until(sleep(Math.ceil(((1 - tokens) / maxBytesPerSec) * 1000)));
          continue;
        }
        budget = Math.min(budget, tokens);
      }
      const records = await spool.read(budget);
      if (records.length === 0) {
        await this.#until(spool.whenReadable());
        continue;
      }
      let bytes = 0;
      for (const r of records) {
        const entry = r.entry;
        batcher.addWithoutWaiting(r.topic, r.record, (err) => {
          if (!err) spool.done(entry);
        });
        bytes += r.record.value.length;
      }
      tokens -= bytes;
    }
  }

  /** Waits for `p`, or until stop() is called. */
  async #until(p: Promise<void>): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      p.then(resolve, resolve);
    });
    this.#wake = null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
