// A local service is a Java program weir runs on 127.0.0.1 for development and tests, from jars it
// fetched with Maven: the Kafka broker (tools/kafka) and the Schema Registry (tools/registry). The
// shared parts in this folder — the Java check (java.ts), the Maven fetch (maven.ts), ports
// (ports.ts), the process control (process.ts) and the command line (cli.ts) — learn what they need
// about a service from its LocalServiceSpec: the words its messages use, the names of its files,
// and its error type.
import { type ErrorCode, WeirError } from '../../gateway/errors.ts';

/** The failures the shared parts report; a service's error code is its prefix and one of these. */
export type LocalServiceFailure =
  | 'JAVA_MISSING'
  | 'JAVA_TOO_OLD'
  | 'MAVEN_MISSING'
  | 'START_FAILED'
  | 'NOT_ANSWERING'
  | 'STOP_FAILED';

/** What every local service's error carries: a stable code `C`, and output worth showing. */
export class LocalServiceError<C extends ErrorCode = ErrorCode> extends WeirError {
  declare readonly code: C;
  /** Last lines of the service's or Maven's output, when there is something to show. */
  readonly logTail: string | undefined;

  constructor(code: C, message: string, options: { logTail?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.name = 'LocalServiceError';
    this.logTail = options.logTail;
  }
}

export interface LocalServiceSpec {
  /** What messages call it, also at the start of a sentence: 'Kafka', 'the registry'. */
  readonly name: string;
  /** The base name of its files in a state dir: NAME.pid, NAME.json and logs/NAME.out. */
  readonly fileName: string;
  /** The command that manages it, for advice in messages: 'weir kafka'. */
  readonly command: string;
  /** A main class its command line must also name for a pid to count as it (see process.ts). */
  readonly mainClass?: string;
  /** Its own error for one of the shared parts' failures. */
  error(
    failure: LocalServiceFailure,
    message: string,
    options?: { logTail?: string; cause?: unknown },
  ): LocalServiceError;
}

export type Log = (line: string) => void;
export const noLog: Log = () => {};
