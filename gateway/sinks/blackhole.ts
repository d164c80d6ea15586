// A sink that acknowledges every batch at once and keeps nothing: for benchmarks and tests of
// the stages before Kafka.
import type { Batch, BatchOutcome, Sink } from '../contracts.ts';

export class BlackholeSink implements Sink {
  readonly name = 'blackhole';
  records = 0;

  async connect(): Promise<void> {}

  async send(batches: readonly Batch[]): Promise<BatchOutcome[]> {
    for (const b of batches) this.records += b.records.length;
    return batches.map(() => ({ status: 'ok' }));
  }

  async probe(): Promise<void> {}

  async close(): Promise<void> {}
}
