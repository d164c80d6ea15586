// The record queue without a spool: records go straight into the batcher's bounded memory.
// QoS 0 is settled on admission, QoS 1/2 when Kafka acknowledged the record.
import type { OutboundRecord, RecordQueue, Settle } from '../contracts.ts';
import type { Batcher } from './batcher.ts';

export class MemoryQueue implements RecordQueue {
  readonly #batcher: Batcher;

  constructor(batcher: Batcher) {
    this.#batcher = batcher;
  }

  enqueue(topic: string, record: OutboundRecord, qos: 0 | 1 | 2, settle: Settle): void {
    if (qos === 0) this.#batcher.add(topic, record, settle, null);
    else this.#batcher.add(topic, record, null, settle);
  }
}
