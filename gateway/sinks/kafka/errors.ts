// How weir reads Kafka errors, whatever the client library: the protocol error name, found
// through wrappers and causes (outcomes.ts decides from it between "retry later" and "rejected
// for good"); and the errors the adapters raise themselves.
import { errorChain as anyErrorChain, WeirError } from '../../errors.ts';

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

/** WEIR_KAFKA_TIMEOUT: Kafka answered nothing to a request within `ms`. */
export function noAnswer(what: string, ms: number, cause?: unknown): WeirError {
  return new WeirError('WEIR_KAFKA_TIMEOUT', `Kafka answered no ${what} within ${ms} ms`, {
    cause,
  });
}

/** Whether a kafkajs error says a request went unanswered for its request timeout. */
export function kafkajsTimedOut(err: unknown): boolean {
  for (const o of errorChain(err)) if (o.name === 'KafkaJSRequestTimeoutError') return true;
  return false;
}

export function notConnected(): WeirError {
  return new WeirError('WEIR_KAFKA_NOT_CONNECTED', 'Kafka producer not connected');
}

export function closedError(): WeirError {
  return new WeirError('WEIR_KAFKA_CLOSED', 'Kafka sink closed while connecting');
}
