// The source built from the config and started: its listeners (certificates read), its login
// and subscribe rules (users file read) and the device front end that hands every PUBLISH to the
// intake.
// A file that went away since the config check fails the start like a port that is taken.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import type { InboundMessage, Intake } from '../contracts.ts';
import { WeirError } from '../errors.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { type BrokerSource, startBroker } from './broker.ts';
import type { ListenerSpec } from './listeners.ts';
import { sourceListeners, sourceSecurity } from './setup.ts';

export interface StartedSource {
  readonly broker: BrokerSource;
  /** Reads the users file again (SIGHUP); null without one. Keeps the old logins on a bad file. */
  readonly reloadUsers: (() => number) | null;
}

/**
 * Starts listening. Fails with the WeirError of a file it could not read, or WEIR_MQTT_LISTEN
 * naming the listener that could not listen (its cause says why).
 */
export async function startSource(
  loaded: LoadedConfig,
  intake: Intake,
  metrics: Metrics,
  log: Logger,
): Promise<StartedSource> {
  const { mqtt } = loaded.config;
  let listenerSpecs: ListenerSpec[] = [];
  try {
    listenerSpecs = sourceListeners(loaded);
    const setup = sourceSecurity(loaded, log);
    const broker = await startBroker({
      listeners: listenerSpecs,
      security: setup.security,
      maxPacketBytes: mqtt.maxPacketBytes,
      connectTimeoutMs: mqtt.connectTimeoutMs,
      limits: mqtt.limits,
      intake,
      log,
      metrics,
    });
    return { broker, reloadUsers: setup.reloadUsers };
  } catch (err) {
    if (err instanceof WeirError) throw err;
    const failed = listenerSpecs.find((l) => l.transport === (err as { transport?: string }).transport);
    const where = failed === undefined ? '' : ` ${failed.transport} ${failed.host}:${failed.port}`;
    throw new WeirError('WEIR_MQTT_LISTEN', `cannot listen on${where}`, { cause: err });
  }
}

/**
 * What the intake tells of each publish it refuses (counted there; the source closes an MQTT
 * 3.1.1 connection and answers a v5 one with reason 0x87): one warning per 10 s at most, each
 * refusal at debug level.
 */
export function logUnauthorized(log: Logger): (msg: InboundMessage, route: string) => void {
  const warn = rateLimited(10_000, (suppressed) =>
    log.warn(
      { suppressed },
      "publishes refused: a device published into another device's topic (MQTT 3.1.1: connection closed; MQTT 5: refused with 0x87; counted as unauthorized)",
    ),
  );
  return (msg, route) => {
    log.debug({ route, topic: msg.topic, identity: msg.identity }, 'publish refused');
    warn();
  };
}
