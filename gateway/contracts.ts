// The small interfaces where weir's stages meet.
//
// Who imports what:
//  - The stages — source/, intake/, spool/, batcher/, registry/ (the framer), forwarder/,
//    sinks/ — import this file and the shared utilities (errors.ts, log.ts, metrics.ts, config/),
//    never each other. One exception is left: registry/id-cache.ts borrows the spool's directory
//    fsync (spool/disk/checkpoint.ts).
//  - Some folders are parts of one stage, and no other stage imports them: router/ (which route
//    a topic takes), codec/ (JSON → Avro) and deadletter/ (the dead-letter record) are the
//    intake's; auth/ (logins, subscribe rules) is the source's.
//  - config/ checks the config with the stages' own parsers (route patterns, schemas, registry,
//    Kafka and login settings), and metrics.ts takes its label values from this file and from
//    auth/: both import those.
//  - gateway/main.ts is the only place that knows every stage and wires them together. A stage
//    that takes more than a constructor to build from the config has a stage.ts that main.ts
//    calls (source/, spool/, registry/); it builds its own stage only. The operations side
//    (http/) and shutdown.ts see the parts through the little they need of them.
//  - cli/ is the weir command: it starts the gateway through main.ts, and its other commands use
//    what they need (the spool inspector, the registry client, the Kafka settings).
//
// Flow:  source ──InboundMessage──▶ Intake (router → decoder) ──OutboundRecord──▶ RecordQueue
//        RecordQueue: the spool (SpoolReader ──▶ pump ──▶ RecordBuffer), or the batcher itself
//        batcher (BatchSource) ──PendingBatch──▶ forwarder ──▶ [Framer] ──Batch──▶ Sink ──▶ Kafka

/** One MQTT PUBLISH as the source received it. */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly clientId: string;
  /**
   * The device id the client logged in as; null when it did not log in (`auth: none`). The
   * intake lets a device with an identity publish only to topics whose key segment is that id.
   */
  readonly identity: string | null;
  /** Gateway receive time, epoch milliseconds. */
  readonly receivedAt: number;
  /**
   * MQTT 5 user properties (a name sent twice has an array of values); they become Kafka headers.
   * Absent for MQTT 3.1.1 and for v5 messages without them.
   */
  readonly userProperties?: Readonly<Record<string, string | string[]>>;
  /** MQTT 5 content type (a MIME type, as the device says); it becomes a Kafka header. */
  readonly contentType?: string;
  /** MQTT 5 message expiry: epoch milliseconds after which the message is not sent to Kafka. */
  readonly expiresAt?: number;
}

/**
 * Called exactly once per accepted message.
 *  - QoS 1/2: only when the message (or its dead-letter record) is safe — for now that means
 *    acknowledged by Kafka; with the spool it means fsync'd. The source sends PUBACK/PUBREC then.
 *  - QoS 0: as soon as the message is admitted into the bounded buffer.
 * An error means the message is not safe: the source must not acknowledge it (it drops the
 * connection so the device resends after reconnecting).
 * Calling late is how backpressure reaches the device: the source reads nothing more from that socket
 * until every packet of the previous read has been called back.
 *
 * Where a record passes a bounded buffer (the spool, the batcher), its two moments have one name
 * each, everywhere: `onAdmitted` — it is inside the bound (QoS 0 is settled then) — and
 * `onDurable` — it is safe (fsync'd in the spool, or acknowledged by Kafka; QoS 1/2 are settled
 * then). Either may be null when nobody waits for that moment.
 */
export type Settle = (err?: Error | null) => void;

/**
 * The entry point the source feeds. Never throws; bad input is dead-lettered, not rejected. The
 * one refusal: a publish its device is not authorized to make is dropped (counted as
 * `unauthorized`) and settled with a WeirError `WEIR_UNAUTHORIZED` — not acknowledged; the source
 * closes that connection.
 */
export interface Intake {
  accept(msg: InboundMessage, settle: Settle): void;
}

/**
 * Where the intake puts records for Kafka. `settle` follows the Settle contract: QoS 0 once the
 * record is admitted, QoS 1/2 once it is safe (fsync'd in the spool; without a spool, acknowledged
 * by Kafka). Never throws; calling `settle` late is the backpressure.
 */
export interface RecordQueue {
  enqueue(topic: string, record: OutboundRecord, qos: 0 | 1 | 2, settle: Settle): void;
}

/**
 * The spool as its reader (the pump) sees it: records in the order they were written, each
 * handed out once per process. `entry` is the spool's own handle for a record; the reader gives
 * it back to `done` once Kafka has the record. Records not done are replayed after a restart.
 */
export interface SpoolReader<Entry> {
  /**
   * The next records, about `maxBytes` of them (at least one if any is written); [] when the
   * reader has caught up with the writer. Not re-entrant: await one call before the next.
   */
  read(maxBytes: number): Promise<ReadonlyArray<SpooledRecord<Entry>>>;
  /** Resolves when records are written beyond what was read (at once if they are). */
  whenReadable(): Promise<void>;
  /** Kafka has the record: the spool may forget it. */
  done(entry: Entry): void;
}

/** One record the spool handed out. */
export interface SpooledRecord<Entry> {
  readonly topic: string;
  readonly record: OutboundRecord;
  readonly entry: Entry;
}

/**
 * A record's Kafka headers. A name with several values (an MQTT 5 user property sent more than
 * once) has them in an array, in the order the device sent them; Kafka keeps repeated header
 * names, so each value becomes a header of its own. The headers weir sets itself always have one.
 */
export type RecordHeaders = Readonly<Record<string, Buffer | readonly Buffer[]>>;

/** A record ready for Kafka: already Avro-encoded, with its key and headers. */
export interface OutboundRecord {
  readonly key: Buffer | null;
  readonly value: Buffer;
  /**
   * Records of one device topic share one headers object (and records that repeat the same MQTT 5
   * properties share theirs): the spool writes a headers object once per segment and refers to it
   * after that.
   */
  readonly headers: RecordHeaders;
  /** Epoch milliseconds; the Kafka record timestamp. */
  readonly timestamp: number;
  /**
   * MQTT 5 message expiry, epoch milliseconds: a record still waiting at that time is not sent
   * (counted as dropped, `expired`). Absent: it never expires. Not sent to Kafka.
   */
  readonly expiresAt?: number;
  /**
   * The device message the record was made from; not sent to Kafka. Kept (in the spool too) so
   * that a record Kafka refuses becomes a dead letter that names its client, QoS and route.
   * Absent on records weir makes itself (dead letters).
   */
  readonly origin?: RecordOrigin;
}

/** Where a record came from. Records of one device topic share one origin object. */
export interface RecordOrigin {
  readonly clientId: string;
  readonly qos: 0 | 1 | 2;
  /** The route that matched the topic. */
  readonly route: string | null;
}

/** Records for one Kafka topic, in the order they were accepted. */
export interface Batch {
  readonly topic: string;
  readonly records: readonly OutboundRecord[];
  /** Sum of key + value + header bytes: what the memory bound counts. */
  readonly bytes: number;
}

/**
 * A batch on its way to Kafka with the callbacks of its records: `onDurable[i]` belongs to
 * `records[i]` and runs when the batch completes (Kafka acknowledged it, or it was given up with
 * an error); null for a record nobody waits for (QoS 0, settled on admission).
 */
export interface PendingBatch extends Batch {
  readonly onDurable: ReadonlyArray<Settle | null>;
}

/**
 * Where the forwarder takes batches from (the batcher). Each batch taken is handed back once:
 * `complete` (delivered, or given up) or `requeue` (to be sent again, before anything newer).
 * The batcher says when a batch is ready through its own `onReady`, which the wiring connects.
 */
export interface BatchSource {
  /** Ready batches not taken yet. */
  readonly readyCount: number;
  /**
   * Removes and returns the oldest ready batch of each topic: one per topic per send, so a
   * batch sent again keeps its place before the newer ones of its topic.
   */
  takeReady(): PendingBatch[];
  /** Puts batches back at the front of the ready queue, in the given order, to be sent again. */
  requeue(batches: readonly PendingBatch[]): void;
  /** The batch is done: its records leave the memory bound and their `onDurable` run (with `err`). */
  complete(batch: PendingBatch, err?: Error): void;
  /**
   * Adds a record at once, without waiting for room (see RecordBuffer): the forwarder moves the
   * records of a batch Kafka refused into the dead-letter topic, in the place of the batch's own
   * records, which leave the bound right after.
   */
  addWithoutWaiting(topic: string, record: OutboundRecord, onDurable: Settle | null): void;
}

/**
 * What the spool pump feeds (the batcher), bounded in bytes. The pump keeps within the bound
 * itself — it reads from the spool only what fits below it — so it adds records without waiting.
 */
export interface RecordBuffer {
  /** Record bytes held, from admission until their batch completes. */
  readonly bufferedBytes: number;
  /** Resolves once fewer than `bytes` are held. */
  whenBelow(bytes: number): Promise<void>;
  /**
   * Adds a record at once: its bytes count, but it neither waits for room nor queues behind
   * records that wait. The caller keeps memory bounded. `onDurable` runs when its batch completes.
   */
  addWithoutWaiting(topic: string, record: OutboundRecord, onDurable: Settle | null): void;
}

/**
 * What a sink says about one batch.
 *  - `ok`: Kafka acknowledged every record (acks=all).
 *  - `rejected`: Kafka refused the batch for good (e.g. a record larger than the topic allows);
 *    retrying cannot help. The records go to the dead-letter path with `reason`.
 *  - `retry`: not delivered now; keep the records and try again later, in the same order.
 */
export type BatchOutcome =
  | { readonly status: 'ok' }
  | { readonly status: 'rejected'; readonly reason: string; readonly error: Error }
  | { readonly status: 'retry'; readonly error: Error };

/**
 * What a framer says about one batch on its way to the sink.
 *  - `ok`: `batch` is what Kafka gets (the same records, values framed for their readers).
 *  - `wait`: the batch cannot be framed yet (a schema id is not known: the registry is out of
 *    reach, or refuses the schema). The caller keeps the batch, in order, and offers it again
 *    after `onReady`; `error` says why (a WeirError; retriable false when someone must act).
 */
export type FrameOutcome =
  | { readonly status: 'ok'; readonly batch: Batch }
  | { readonly status: 'wait'; readonly error: Error };

/**
 * A stage between batcher and sink that rewrites record values as their readers expect (the
 * Confluent wire format: magic byte + schema id + Avro). `frame` answers at once, without I/O;
 * whatever it must learn first (a schema id) it learns in the background, then calls `onReady`.
 */
export interface Framer {
  frame(batch: Batch): FrameOutcome;
  onReady: () => void;
}

/**
 * A Kafka client adapter. `send` is called with at most one call in flight at a time (the caller
 * serialises), so records of one topic-partition reach Kafka in the order given. It resolves with
 * one outcome per batch, in the same order, and never rejects; it may take as long as the client's
 * own retries take (bounded by its request timeout). `close` flushes nothing: callers drain first.
 *
 * A sink recovers by itself: once connect() was called, a sink without a producer (the connect
 * failed, or a producer reset could not reconnect while Kafka was down) connects again at the
 * next send or probe, so delivery resumes as soon as Kafka is back.
 */
export interface Sink {
  readonly name: string;
  /**
   * Connects (and creates missing topics where configured); does nothing when connected. Rejects
   * when Kafka is unreachable.
   */
  connect(): Promise<void>;
  send(batches: readonly Batch[]): Promise<BatchOutcome[]>;
  /**
   * Asks Kafka one cheap question (cluster metadata, no topics), connecting first when there is no
   * producer. Resolves when Kafka answered, rejects when it refused or failed. May run while a send
   * is in flight. A hung broker may leave it pending for the client's own timeouts: the caller
   * bounds it by time (kafka.requestTimeoutMs) and reads "no answer in time" as down.
   */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/** Why a message did not become a record of its route. Stable codes: they are metric labels. */
export type DeadLetterReason = 'invalid_json' | 'schema_mismatch' | 'no_route' | 'kafka_rejected';

/** Why a message was dropped without reaching Kafka at all. Stable codes: metric labels. */
export type DropReason =
  | 'too_large'
  | 'topic_too_long'
  | 'topic_too_many_levels'
  | 'rate_limited'
  | 'shutdown'
  | 'deadletter_rejected'
  | 'spool_full'
  | 'spool_damaged'
  | 'unauthorized'
  | 'expired';
