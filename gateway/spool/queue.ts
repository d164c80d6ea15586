// The record queue with the disk spool: QoS 0 is settled once the record is admitted to the
// spool, QoS 1/2 once the fsync covering it has returned.
import type { OutboundRecord, RecordQueue, Settle } from '../contracts.ts';
import type { DiskSpool } from './disk/spool.ts';

export class SpoolQueue implements RecordQueue {
  readonly #spool: DiskSpool;

  constructor(spool: DiskSpool) {
    this.#spool = spool;
  }

  enqueue(topic: string, record: OutboundRecord, qos: 0 | 1 | 2, settle: Settle): void {
    if (qos === 0) this.#spool.append(topic, record, settle, null);
    else this.#spool.append(topic, record, null, settle);
  }
}
