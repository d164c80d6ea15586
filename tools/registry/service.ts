// The local Schema Registry as a local service (tools/local-service): its names, its files
// (registry.pid, registry.json, logs/registry.out in its state dir), and its error type.
import { LocalService } from '../local-service/process.ts';
import { LocalServiceError, type LocalServiceFailure } from '../local-service/service.ts';

export type LocalRegistryErrorCode =
  | 'WEIR_LOCAL_REGISTRY_JAVA_MISSING'
  | 'WEIR_LOCAL_REGISTRY_JAVA_TOO_OLD'
  | 'WEIR_LOCAL_REGISTRY_MAVEN_MISSING'
  | 'WEIR_LOCAL_REGISTRY_FETCH_FAILED'
  | 'WEIR_LOCAL_REGISTRY_PORT_IN_USE'
  | 'WEIR_LOCAL_REGISTRY_START_FAILED'
  | 'WEIR_LOCAL_REGISTRY_START_TIMEOUT'
  | 'WEIR_LOCAL_REGISTRY_NOT_ANSWERING'
  | 'WEIR_LOCAL_REGISTRY_STOP_FAILED';

export class LocalRegistryError extends LocalServiceError<LocalRegistryErrorCode> {
  override name = 'LocalRegistryError';
}

export const REGISTRY = new LocalService({
  name: 'the registry',
  fileName: 'registry',
  command: 'weir registry',
  error: (failure: LocalServiceFailure, message, options) =>
    new LocalRegistryError(`WEIR_LOCAL_REGISTRY_${failure}`, message, options),
});
