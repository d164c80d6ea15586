// How weir reads Kafka errors, whatever the client library: the protocol error name, found
// through wrappers and causes, decides between "retry later" and "rejected for good".

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

/**
 * The Kafka protocol error name inside a client error (kafkajs: `type`; @platformatic/kafka:
 * `apiId`), looking through `cause`, `errors` and `originalError`.
 */
export function kafkaErrorType(err: unknown): string | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const o = e as {
      type?: unknown;
      apiId?: unknown;
      cause?: unknown;
      errors?: unknown;
      originalError?: unknown;
    };
    for (const name of [o.type, o.apiId]) if (typeof name === 'string' && /^[A-Z_]+$/.test(name)) return name;
    queue.push(o.cause, o.originalError);
    if (Array.isArray(o.errors)) queue.push(...o.errors);
  }
  return null;
}
