import { ERROR_CODES, type ErrorCode } from './error-codes.ts';

export type { ErrorCode } from './error-codes.ts';

/**
 * Errors weir raises carry a stable code (listed, with its meaning, in error-codes.ts), an
 * optional cause, and whether retrying can help — the code's own answer from that list.
 */
export class WeirError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WeirError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * An error and every error inside it (`cause`, `originalError`, `errors`), breadth first, each
 * once: libraries wrap the error that matters at different depths.
 */
export function* errorChain(err: unknown): Generator<object> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    yield e;
    const o = e as { cause?: unknown; errors?: unknown; originalError?: unknown };
    queue.push(o.cause, o.originalError);
    if (Array.isArray(o.errors)) queue.push(...o.errors);
  }
}

/** What a system error code means for a connection, as the end of a sentence. */
const CONNECTION_PROBLEMS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'refused the connection (nothing listens there)',
  ECONNRESET: 'closed the connection',
  ETIMEDOUT: 'did not answer in time',
  EHOSTUNREACH: 'is unreachable from this machine',
  ENETUNREACH: 'is unreachable from this machine (no route to its network)',
  ENOTFOUND: 'has a host name that does not resolve',
  EAI_AGAIN: 'has a host name that could not be resolved (DNS not answering)',
  EPIPE: 'closed the connection',
};

/**
 * One readable sentence for a failed connection to `service` (e.g. "Kafka at 127.0.0.1:19092
 * refused the connection (nothing listens there)"), found through wrappers and aggregate errors;
 * several endpoints are listed together. Falls back to the innermost error's message.
 */
export function describeConnectionError(err: unknown, service: string): string {
  const byProblem = new Map<string, string[]>();
  let innermost: string | null = null;
  for (const e of errorChain(err)) {
    const o = e as {
      code?: unknown;
      address?: unknown;
      port?: unknown;
      hostname?: unknown;
      message?: unknown;
    };
    if (typeof o.message === 'string' && o.message !== '') innermost = o.message;
    const problem = typeof o.code === 'string' ? CONNECTION_PROBLEMS[o.code] : undefined;
    if (problem === undefined) continue;
    const host =
      typeof o.address === 'string' ? o.address : typeof o.hostname === 'string' ? o.hostname : null;
    const where = host === null ? null : typeof o.port === 'number' ? `${host}:${o.port}` : host;
    const list = byProblem.get(problem) ?? [];
    if (where !== null && !list.includes(where)) list.push(where);
    byProblem.set(problem, list);
  }
  if (byProblem.size === 0) return `${service}: ${innermost ?? errorMessage(err)}`;
  return [...byProblem]
    .map(([problem, where]) => `${service}${where.length > 0 ? ` at ${where.join(', ')}` : ''} ${problem}`)
    .join('; ');
}
