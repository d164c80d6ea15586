// The security hooks of the embedded broker: aedes' preConnect / authenticate /
// authorizeSubscribe, built from the login rules (gateway/auth/authenticator.ts), the
// brute-force penalty (gateway/auth/penalty.ts) and the subscribe rules (gateway/auth/acl.ts).
// Publishing is authorized by the intake, from the identity this file records per client.
//
// A refused login is answered late (the penalty of its source address), by a timer: other
// devices' logins go on meanwhile. Nothing here logs a password, and usernames only at debug.
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import { type SubscribeRule, subscribeAllowed } from '../auth/acl.ts';
import { type Authenticator, type AuthFailure, RETURN_CODE } from '../auth/authenticator.ts';
import type { LoginPenalty } from '../auth/penalty.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { ConnectionInfo } from './listeners.ts';

type PreConnectHandler = NonNullable<AedesOptions['preConnect']>;
type AuthenticateHandler = NonNullable<AedesOptions['authenticate']>;
type AuthorizeSubscribeHandler = NonNullable<AedesOptions['authorizeSubscribe']>;

export interface SourceSecurity {
  /** null: `auth: none` — every device is let in, without an identity. */
  readonly authenticator: Authenticator | null;
  readonly subscribeRules: readonly SubscribeRule[];
  readonly penalty: LoginPenalty;
}

export interface SecurityHooks {
  readonly preConnect: PreConnectHandler;
  readonly authenticate: AuthenticateHandler;
  readonly authorizeSubscribe: AuthorizeSubscribeHandler;
  /** The identity the client logged in as (null: none). */
  identityOf(client: Client): string | null;
}

export function securityHooks(
  security: SourceSecurity,
  connectionOf: (client: Client) => ConnectionInfo | undefined,
  metrics: Metrics,
  log: Logger,
): SecurityHooks {
  const { authenticator, subscribeRules, penalty } = security;
  /** What CONNECT said that `authenticate` is not given. */
  const connects = new WeakMap<Client, { clientId: string; clean: boolean }>();
  const identities = new WeakMap<Client, string>();

  const logRefused = rateLimited(10_000, (suppressed) =>
    log.warn({ suppressed }, 'MQTT logins refused (see weir_source_auth_failures_total)'),
  );
  const logSubscribe = rateLimited(10_000, (suppressed) =>
    log.info({ suppressed }, 'subscriptions refused (no acl.subscribe rule covers them)'),
  );

  const refuse = (client: Client, reason: AuthFailure, done: Parameters<AuthenticateHandler>[3]) => {
    metrics.authFailures.inc({ reason });
    const info = connectionOf(client);
    const address = info?.remoteAddress ?? '';
    // Misconfiguration and overload do not make an address suspect; guesses do.
    const delayMs = reason === 'client_id' || reason === 'busy' ? 0 : penalty.fail(address);
    log.debug({ reason, transport: info?.transport, address, delayMs }, 'MQTT login refused');
    logRefused();
    const err = Object.assign(new Error(`login refused: ${reason}`), {
      returnCode: RETURN_CODE[reason],
    }) as AuthenticateError;
    if (delayMs === 0) done(err, false);
    else setTimeout(() => done(err, false), delayMs).unref();
  };

  return {
    preConnect(client, packet, done) {
      connects.set(client, { clientId: packet.clientId ?? '', clean: packet.clean !== false });
      done(null, true);
    },

    authenticate(client, username, password, done) {
      const connect = connects.get(client) ?? { clientId: client.id, clean: true };
      // [MQTT-3.1.3-8]: a zero-length client id needs a clean session (aedes 1.2 would invent one).
      if (connect.clientId === '' && !connect.clean) return refuse(client, 'client_id', done);
      const info = connectionOf(client);
      const certificate = info?.certificate ?? null;
      if (authenticator === null) {
        // auth: none. A certificate that did not verify is still refused.
        if (certificate === 'unverified') return refuse(client, 'bad_certificate', done);
        return done(null, true);
      }
      const wait = penalty.delayMs(info?.remoteAddress ?? '');
      const attempt = () =>
        authenticator.login({ ...connect, username, password, certificate }).then(
          (result) => {
            if (!result.ok) return refuse(client, result.reason, done);
            identities.set(client, result.identity);
            done(null, true);
          },
          (err: unknown) => {
            log.error({ err }, 'login check failed');
            refuse(client, 'busy', done);
          },
        );
      if (wait === 0) attempt();
      else setTimeout(attempt, wait).unref();
    },

    authorizeSubscribe(client, sub, done) {
      if (subscribeAllowed(subscribeRules, identities.get(client) ?? null, sub.topic)) return done(null, sub);
      log.debug({ filter: sub.topic }, 'subscription refused');
      logSubscribe();
      done(null, null); // SUBACK 0x80 (failure) for this filter; the connection stays
    },

    identityOf: (client) => identities.get(client) ?? null,
  };
}
