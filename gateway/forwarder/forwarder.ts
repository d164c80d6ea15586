// The forwarder moves ready batches from the batcher to the sink, one send in flight at a time
// (so records of a topic-partition reach Kafka in the order they were accepted), and acts on each
// batch's outcome:
//   ok        → the batch completes: QoS 1/2 devices get their PUBACK/PUBREC.
//   retry     → the batch goes back to the front of the queue; the next send waits a capped
//               exponential backoff (Kafka down, hung or slow). Nothing is dropped.
//   rejected  → every record goes to the dead-letter topic (reason kafka_rejected); if the
//               dead-letter topic rejects it too, it is dropped and counted (deadletter_rejected).
// Before a batch is sent (each time: a batch may wait through an outage), records whose MQTT 5
// message expiry has passed leave it, counted as dropped (expired) and done (expiry.ts).
// With a framer (the Confluent wire format), each batch passes it on its way to the sink; a batch
// it cannot frame yet (a schema id not known: registry out of reach) goes back to the front of the
// queue, without backoff and without counting against Kafka; when the framer can frame it, the
// wiring calls sendSoon (as it does when the batcher has a batch ready). Batches of other topics
// keep flowing meanwhile.
// It also says whether Kafka is up (weir_kafka_up, the kafka_down condition): up while the last
// produce succeeded and Kafka answered the last probe — a metadata request every second, traffic
// or not, that counts as failed when unanswered for kafka.requestTimeoutMs. So a hung broker is
// down after about requestTimeoutMs, even when no send is waiting on it.
import type { Logger } from 'pino';
import type {
  Batch,
  BatchOutcome,
  BatchSource,
  Framer,
  OutboundRecord,
  PendingBatch,
  Sink,
} from '../contracts.ts';
import { describeConnectionError, errorMessage, WeirError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { withoutExpired } from './expiry.ts';

export interface ForwarderOptions {
  /** Where batches come from (the batcher). */
  readonly batcher: BatchSource;
  readonly sink: Sink;
  /** Rewrites values before the sink (e.g. the Confluent wire format); none: sent as they are. */
  readonly framer?: Framer;
  readonly deadLetterTopic: string;
  /** Wraps a record Kafka refused into a dead-letter record. */
  readonly toDeadLetter: (batchTopic: string, record: OutboundRecord, reason: string) => OutboundRecord;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long a probe may wait for Kafka's answer (kafka.requestTimeoutMs); default 30 s. */
  readonly probeTimeoutMs?: number;
  /** Pause between probes, ms; default 1000. */
  readonly probeIntervalMs?: number;
}

export class Forwarder {
  readonly #o: ForwarderOptions;
  #sending = false;
  #scheduled = false;
  #backoffMs = 0;
  #backoffTimer: NodeJS.Timeout | null = null;
  #connected = false;
  /** Kafka answered the last probe, connect or send. */
  #answered = false;
  /** The last send came back `retry`. */
  #sendFailing = false;
  #probeTimer: NodeJS.Timeout | null = null;
  #probeDeadline: NodeJS.Timeout | null = null;
  /** A sink.probe() call has not settled yet (a hung broker may hold it past its deadline). */
  #probeInFlight = false;
  #sinkConnected = false;
  #connecting: Promise<void> | null = null;
  #stopped = false;
  #lastError = '';
  /** WeirError codes of the last failed probe (or connect) and of the last failed send. */
  #probeErrorCode: string | null = null;
  #sendErrorCode: string | null = null;
  /** The last failure, in one sentence (what /status shows). */
  #problem: string | null = null;

  constructor(opts: ForwarderOptions) {
    this.#o = opts;
  }

  get kafkaConnected(): boolean {
    return this.#connected;
  }

  /** Why Kafka is not reachable, in one sentence ("Kafka at host:port refused the connection"); null while it is. */
  get kafkaProblem(): string | null {
    return this.#connected ? null : this.#problem;
  }

  /** The WeirError code of the last failure while Kafka is down (e.g. WEIR_KAFKA_AUTH), else null. */
  get kafkaErrorCode(): string | null {
    if (this.#connected) return null;
    // A probe that went unanswered says more (a hang) than the send that timed out behind it.
    return this.#answered ? this.#sendErrorCode : this.#probeErrorCode;
  }

  /** Stops sending and probing. Batches in flight still complete; later ones stay in the batcher. */
  stop(): void {
    this.#stopped = true;
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    if (this.#probeTimer !== null) clearTimeout(this.#probeTimer);
    if (this.#probeDeadline !== null) clearTimeout(this.#probeDeadline);
    this.#probeTimer = null;
    this.#probeDeadline = null;
  }

  /**
   * A batch is ready (the batcher's onReady), or one that waited can be framed now (the
   * framer's): sends what is ready once the rest of this tick has added its records — or, while
   * a send is failing, when the backoff wait is over.
   */
  sendSoon(): void {
    this.#schedule();
  }

  /** Sends what is ready right away, skipping any backoff wait (used when draining). */
  kick(): void {
    if (this.#backoffTimer !== null) {
      clearTimeout(this.#backoffTimer);
      this.#backoffTimer = null;
    }
    this.#schedule();
  }

  /**
   * Connects the sink now (at start-up) rather than with the first batch, so topics exist and
   * Kafka's state is known early, and starts probing Kafka until stop(). Failures are retried by
   * the send path and by the probe.
   */
  connectInBackground(): void {
    this.#connect().then(
      () => {
        this.#answered = true;
        this.#update();
      },
      (err: unknown) => {
        // A start-up that failed elsewhere stops the forwarder; that is no news about Kafka.
        if (this.#stopped) return;
        this.#probeErrorCode = weirCode(err);
        this.#lastError = errorMessage(err);
        this.#o.log.warn(this.#describe(err), 'Kafka not reachable yet; records are kept until it is');
      },
    );
    this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    if (this.#stopped) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = null;
      void this.#probe().finally(() => this.#scheduleProbe());
    }, this.#o.probeIntervalMs ?? 1_000);
    this.#probeTimer.unref();
  }

  /**
   * One probe: its verdict is what the sink says within the deadline, or "down" at the deadline.
   * An answer after the deadline only frees the way for the next probe; it says nothing.
   */
  async #probe(): Promise<void> {
    if (this.#probeInFlight) return; // still waiting on a hung broker: the deadline said down
    this.#probeInFlight = true;
    const timeoutMs = this.#o.probeTimeoutMs ?? 30_000;
    const call = this.#o.sink.probe().finally(() => {
      this.#probeInFlight = false;
    });
    const verdict = await Promise.race([
      call.then(
        () => null,
        (err: unknown) => err,
      ),
      new Promise<WeirError>((resolve) => {
        this.#probeDeadline = setTimeout(
          () =>
            resolve(new WeirError('WEIR_KAFKA_TIMEOUT', `Kafka answered no probe within ${timeoutMs} ms`)),
          timeoutMs,
        );
        this.#probeDeadline.unref();
      }),
    ]);
    if (this.#probeDeadline !== null) clearTimeout(this.#probeDeadline);
    this.#probeDeadline = null;
    if (this.#stopped) return;
    if (verdict === null) {
      this.#answered = true;
    } else {
      this.#answered = false;
      this.#probeErrorCode = weirCode(verdict);
      const message = errorMessage(verdict);
      if (message !== this.#lastError && this.#connected) {
        this.#lastError = message;
        this.#o.log.warn(this.#describe(verdict), 'Kafka does not answer; records are kept until it does');
      }
    }
    this.#update();
  }

  #connect(): Promise<void> {
    this.#connecting ??= this.#o.sink.connect().then(
      () => {
        this.#sinkConnected = true;
        this.#connecting = null;
      },
      (err: unknown) => {
        this.#connecting = null;
        throw err;
      },
    );
    return this.#connecting;
  }

  #schedule(): void {
    if (this.#scheduled || this.#sending || this.#stopped || this.#backoffTimer !== null) return;
    this.#scheduled = true;
    // Let the rest of this tick add records first: one send covers everything ready.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#sendReady();
    });
  }

  async #sendReady(): Promise<void> {
    const { batcher, sink, metrics, framer } = this.#o;
    if (this.#sending || this.#stopped) return;
    const taken = batcher.takeReady();
    if (taken.length === 0) return;
    // One batch per topic was taken, so a batch that waits for the framer keeps its topic's order
    // by going back to the front; the framer's onReady offers it again (sendSoon).
    const batches: PendingBatch[] = [];
    const toSink: Batch[] = [];
    const waiting: PendingBatch[] = [];
    const now = Date.now();
    let emptied = false;
    for (const whole of taken) {
      const { batch, expired } = withoutExpired(whole, now);
      if (expired > 0) metrics.dropped.inc({ reason: 'expired' }, expired);
      if (batch.records.length === 0) {
        batcher.complete(batch);
        emptied = true;
        continue;
      }
      const framed = framer?.frame(batch) ?? { status: 'ok', batch };
      if (framed.status === 'wait') {
        waiting.push(batch);
        continue;
      }
      batches.push(batch);
      toSink.push(framed.batch);
    }
    if (waiting.length > 0) batcher.requeue(waiting);
    if (batches.length === 0) {
      // Batches of expired records only: the next of their topics may be ready behind them.
      if (emptied && batcher.readyCount > waiting.length) this.#schedule();
      return;
    }
    this.#sending = true;
    let outcomes: BatchOutcome[];
    const started = performance.now();
    try {
      if (!this.#sinkConnected) await this.#connect();
      outcomes = await sink.send(toSink);
    } catch (err) {
      // connect failed, or a sink broke its contract by throwing: keep everything, retry later.
      outcomes = batches.map(() => ({ status: 'retry', error: err as Error }));
    }
    this.#sending = false;
    metrics.kafkaSendSeconds.observe((performance.now() - started) / 1000);

    const retry: PendingBatch[] = [];
    let firstError: Error | null = null;
    batches.forEach((batch, i) => {
      const outcome = outcomes[i] ?? { status: 'retry', error: new Error('sink returned no outcome') };
      if (outcome.status === 'ok') {
        metrics.kafkaRecords.inc(batch.records.length);
        metrics.kafkaBatchRecords.observe(batch.records.length);
        batcher.complete(batch);
      } else if (outcome.status === 'rejected') {
        this.#deadLetter(batch, outcome.reason, outcome.error);
      } else {
        firstError ??= outcome.error;
        retry.push(batch);
      }
    });

    if (retry.length > 0) {
      batcher.requeue(retry);
      this.#onFailure(firstError!);
      return;
    }
    this.#backoffMs = 0;
    this.#sendFailing = false;
    this.#answered = true;
    this.#update();
    if (batcher.readyCount > waiting.length) this.#schedule();
  }

  /** Log fields of a Kafka failure: one sentence; the error with its stack only at debug level. */
  #describe(err: unknown): { problem: string; err?: unknown } {
    this.#problem = describeConnectionError(err, 'Kafka');
    return this.#o.log.isLevelEnabled('debug') ? { problem: this.#problem, err } : { problem: this.#problem };
  }

  #onFailure(err: Error): void {
    const { log, initialBackoffMs = 100, maxBackoffMs = 10_000 } = this.#o;
    this.#sendFailing = true;
    this.#update();
    this.#sendErrorCode = weirCode(err);
    this.#backoffMs = Math.min(maxBackoffMs, this.#backoffMs === 0 ? initialBackoffMs : this.#backoffMs * 2);
    const message = errorMessage(err);
    // Log a failure once, not on every retry of the same outage.
    if (message !== this.#lastError) {
      this.#lastError = message;
      log.warn(
        { ...this.#describe(err), retryInMs: this.#backoffMs },
        'Kafka send failed; records kept, retrying',
      );
    }
    if (this.#stopped) return;
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = null;
      this.#schedule();
    }, this.#backoffMs);
  }

  #update(): void {
    const up = this.#answered && !this.#sendFailing;
    if (up === this.#connected) return;
    this.#connected = up;
    this.#o.metrics.kafkaUp.set(up ? 1 : 0);
    if (up) {
      this.#lastError = '';
      this.#o.log.info('Kafka reachable');
    }
  }

  #deadLetter(batch: PendingBatch, reason: string, error: Error): void {
    const { batcher, deadLetterTopic, toDeadLetter, log, metrics } = this.#o;
    if (batch.topic === deadLetterTopic) {
      log.error(
        { err: error, records: batch.records.length, reason },
        'dead-letter topic refused records; dropped',
      );
      metrics.dropped.inc({ reason: 'deadletter_rejected' }, batch.records.length);
      batcher.complete(batch);
      return;
    }
    log.error(
      { err: error, topic: batch.topic, records: batch.records.length, reason },
      'Kafka refused a batch for good; its records go to the dead-letter topic',
    );
    metrics.deadLetters.inc({ reason: 'kafka_rejected' }, batch.records.length);
    // The records move into the dead-letter topic with their callbacks: a QoS 1 device is
    // acknowledged only once its dead letter is in Kafka. The dead letters take the place of the
    // batch's records, whose bytes leave the bound just after, so they do not wait for room.
    batch.records.forEach((record, i) => {
      const deadLetter = toDeadLetter(batch.topic, record, reason);
      batcher.addWithoutWaiting(deadLetterTopic, deadLetter, batch.onDurable[i]!);
    });
    batcher.complete({ ...batch, onDurable: [] });
  }
}

function weirCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('WEIR_') ? code : null;
}
