// How weir reads Kafka errors, whatever the client library: the protocol error name, found
// through wrappers and causes, decides between "retry later" and "rejected for good".
import type { Batch, BatchOutcome } from '../../contracts.ts';
import { errorChain as anyErrorChain, WeirError } from '../../errors.ts';

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

/** The fields client errors carry, whichever library threw them. */
export interface ClientErrorFields {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly type?: unknown;
  readonly apiId?: unknown;
}

/** An error and every error inside it (`cause`, `originalError`, `errors`), breadth first. */
export function* errorChain(err: unknown): Generator<ClientErrorFields & object> {
  yield* anyErrorChain(err) as Generator<ClientErrorFields & object>;
}

/**
 * The Kafka protocol error name inside a client error (kafkajs: `type`; @platformatic/kafka:
 * `apiId`), looking through `cause`, `errors` and `originalError`.
 */
export function kafkaErrorType(err: unknown): string | null {
  for (const o of errorChain(err)) {
    for (const name of [o.type, o.apiId]) if (typeof name === 'string' && /^[A-Z_]+$/.test(name)) return name;
  }
  return null;
}

/**
 * The outcome of one produce call per batch, the same for every client library: `ok` when it
 * succeeds; on a permanent refusal the batches are sent one by one so only the refused one comes
 * back `rejected`; on a producer-state error the producer is replaced; anything else is `retry`.
 * `produce` throws (e.g. WEIR_KAFKA_NOT_CONNECTED) when it cannot send at all.
 */
export async function produceOutcomes(
  batches: readonly Batch[],
  produce: (batches: readonly Batch[]) => Promise<void>,
  resetProducer: () => Promise<void>,
): Promise<BatchOutcome[]> {
  try {
    await produce(batches);
    return batches.map(() => ({ status: 'ok' }));
  } catch (err) {
    const error = err as Error;
    const type = kafkaErrorType(err);
    if (type !== null && PRODUCER_STATE_ERRORS.has(type)) await resetProducer();
    if (type !== null && PERMANENT_ERRORS.has(type)) {
      if (batches.length === 1) return [{ status: 'rejected', reason: type.toLowerCase(), error }];
      const outcomes: BatchOutcome[] = [];
      for (const b of batches) outcomes.push(...(await produceOutcomes([b], produce, resetProducer)));
      return outcomes;
    }
    return batches.map(() => ({ status: 'retry', error }));
  }
}

/** WEIR_KAFKA_TIMEOUT: Kafka answered nothing to a request within `ms`. */
export function noAnswer(what: string, ms: number, cause?: unknown): WeirError {
  return new WeirError('WEIR_KAFKA_TIMEOUT', `Kafka answered no ${what} within ${ms} ms`, {
    cause,
    retriable: true,
  });
}

/** Whether a kafkajs error says a request went unanswered for its request timeout. */
export function kafkajsTimedOut(err: unknown): boolean {
  for (const o of errorChain(err)) if (o.name === 'KafkaJSRequestTimeoutError') return true;
  return false;
}

export function notConnected(): WeirError {
  return new WeirError('WEIR_KAFKA_NOT_CONNECTED', 'Kafka producer not connected', { retriable: true });
}
