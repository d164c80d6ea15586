// What Kafka's answer to a produce call means for each batch, the same for every client library:
// delivered (`ok`), refused for good (`rejected`: the records go to the dead-letter path) or to be
// kept and sent again (`retry`). The Kafka protocol error name decides, found through the client's
// wrappers and causes (errors.ts). These are pure functions of the error; what the sink then does
// with its producer (replace it, send the batches one at a time) is in adapter.ts.
import type { Batch, BatchOutcome } from '../../contracts.ts';
import { kafkaErrorType } from './errors.ts';

/** Kafka error types after which resending the same records cannot succeed. */
export const PERMANENT_ERRORS: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
]);

/** Producer-state errors: a fresh producer (new producer id) recovers from them. */
export const PRODUCER_STATE_ERRORS: ReadonlySet<string> = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

/** Whether Kafka refused the records for good: sending them again cannot succeed. */
export function isPermanent(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type !== null && PERMANENT_ERRORS.has(type);
}

/** Whether the producer's id is spoiled: only a new producer can send again. */
export function spoilsProducer(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type !== null && PRODUCER_STATE_ERRORS.has(type);
}

/**
 * The outcome of one batch whose records got `error` (null: Kafka acknowledged them all): a
 * permanent refusal is `rejected`, with the Kafka error name in lower case as the reason;
 * anything else (a timeout, Kafka unreachable, a refused login) is `retry`.
 */
export function batchOutcome(error: Error | null): BatchOutcome {
  if (error === null) return { status: 'ok' };
  const type = kafkaErrorType(error);
  if (type !== null && PERMANENT_ERRORS.has(type))
    return { status: 'rejected', reason: type.toLowerCase(), error };
  return { status: 'retry', error };
}

/**
 * Whether a call that failed as a whole with `error` must be sent again one batch at a time:
 * Kafka refused a record for good, and the call's error does not say which batch held it. Sent
 * alone, only the refused batch comes back `rejected`; the others are delivered.
 */
export function sendOneByOne(batches: readonly Batch[], error: Error): boolean {
  return batches.length > 1 && isPermanent(error);
}

/** The outcomes of a call that failed as a whole (and is not sent again one by one). */
export function callOutcomes(batches: readonly Batch[], error: Error): BatchOutcome[] {
  return batches.map(() => batchOutcome(error));
}
