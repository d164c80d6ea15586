// The local Kafka as a local service (tools/local-service): its names, its files (kafka.pid,
// kafka.json, logs/kafka.out in a node's state dir), and its error type.
import { LocalService } from '../local-service/process.ts';
import { LocalServiceError, type LocalServiceFailure } from '../local-service/service.ts';

export type LocalKafkaErrorCode =
  | 'WEIR_KAFKA_JAVA_MISSING'
  | 'WEIR_KAFKA_JAVA_TOO_OLD'
  | 'WEIR_KAFKA_MAVEN_MISSING'
  | 'WEIR_KAFKA_FETCH_FAILED'
  | 'WEIR_KAFKA_FORMAT_FAILED'
  | 'WEIR_KAFKA_SECURITY_FAILED'
  | 'WEIR_KAFKA_PORT_IN_USE'
  | 'WEIR_KAFKA_START_FAILED'
  | 'WEIR_KAFKA_START_TIMEOUT'
  | 'WEIR_KAFKA_NOT_ANSWERING'
  | 'WEIR_KAFKA_STOP_FAILED';

export class LocalKafkaError extends LocalServiceError<LocalKafkaErrorCode> {
  override name = 'LocalKafkaError';
}

/** The broker's main class; a pid counts as a local Kafka only when its command line names it. */
export const KAFKA_MAIN_CLASS = 'kafka.Kafka';

export const KAFKA = new LocalService({
  name: 'Kafka',
  fileName: 'kafka',
  command: 'weir kafka',
  mainClass: KAFKA_MAIN_CLASS,
  error: (failure: LocalServiceFailure, message, options) =>
    new LocalKafkaError(`WEIR_KAFKA_${failure}`, message, options),
});
