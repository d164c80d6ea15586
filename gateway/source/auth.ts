// The security hooks of the device front end: its `authenticate` and `authorizeSubscribe`
// (front-end/types.ts), built from the login rules (gateway/auth/authenticator.ts), the
// brute-force penalty (gateway/auth/penalty.ts) and the subscribe rules (gateway/auth/acl.ts).
// Publishing is authorized by the intake, from the identity a login returns (the front end puts
// it on every message of the connection).
//
// A refused login is answered late (the penalty of its source address), by a timer: other
// devices' logins go on meanwhile. Each refusal is counted by its reason
// (weir_source_auth_failures_total) and answered with the CONNACK code of that reason (3.1.1:
// RETURN_CODE of authenticator.ts; v5: the matching reason code, see front-end/protocol.ts).
// Nothing here logs a password, and usernames only at debug.
import type { Logger } from 'pino';
import { type SubscribeRule, subscribeAllowed } from '../auth/acl.ts';
import { type Authenticator, type AuthFailure, RETURN_CODE } from '../auth/authenticator.ts';
import type { LoginPenalty } from '../auth/penalty.ts';
import { rateLimited } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { FrontEndHooks, LoginRefusal, LoginResult } from './front-end/types.ts';
import type { ConnectionInfo } from './listeners.ts';

export interface SourceSecurity {
  /** null: `auth: none` — every device is let in, without an identity. */
  readonly authenticator: Authenticator | null;
  readonly subscribeRules: readonly SubscribeRule[];
  readonly penalty: LoginPenalty;
}

export interface SecurityHooks extends Required<FrontEndHooks> {
  /** A refusal the front end made itself (a 3.1.1 empty client id without clean session): counted. */
  loginRefused(reason: LoginRefusal, connection: ConnectionInfo): void;
}

/** The front end's refusal of each 3.1.1 CONNACK code (the v5 code follows from it). */
const REFUSAL_OF_CODE: Readonly<Record<2 | 3 | 4 | 5, LoginRefusal>> = {
  2: 'client_id',
  3: 'busy',
  4: 'bad_credentials',
  5: 'not_authorized',
};

export function securityHooks(security: SourceSecurity, metrics: Metrics, log: Logger): SecurityHooks {
  const { authenticator, subscribeRules, penalty } = security;

  const logRefused = rateLimited(10_000, (suppressed) =>
    log.warn({ suppressed }, 'MQTT logins refused (see weir_source_auth_failures_total)'),
  );
  const logSubscribe = rateLimited(10_000, (suppressed) =>
    log.info({ suppressed }, 'subscriptions refused (no acl.subscribe rule covers them)'),
  );

  const refuse = (info: ConnectionInfo, reason: AuthFailure): Promise<LoginResult> => {
    metrics.authFailures.inc({ reason });
    const address = info.remoteAddress;
    // Misconfiguration and overload do not make an address suspect; guesses do.
    const delayMs = reason === 'client_id' || reason === 'busy' ? 0 : penalty.fail(address);
    log.debug({ reason, transport: info.transport, address, delayMs }, 'MQTT login refused');
    logRefused();
    const result: LoginResult = { ok: false, reason: REFUSAL_OF_CODE[RETURN_CODE[reason]] };
    if (delayMs === 0) return Promise.resolve(result);
    return new Promise((resolve) => setTimeout(() => resolve(result), delayMs).unref());
  };

  return {
    authenticate(login) {
      const info = login.connection;
      const certificate = info.certificate;
      if (authenticator === null) {
        // auth: none. A certificate that did not verify is still refused.
        if (certificate === 'unverified') return refuse(info, 'bad_certificate');
        return Promise.resolve({ ok: true, identity: null });
      }
      const connect = { clientId: login.clientId, clean: login.clean };
      const attempt = () =>
        authenticator
          .login({ ...connect, username: login.username, password: login.password, certificate })
          .then(
            (result): LoginResult | Promise<LoginResult> =>
              result.ok ? { ok: true, identity: result.identity } : refuse(info, result.reason),
            (err: unknown) => {
              log.error({ err }, 'login check failed');
              return refuse(info, 'busy');
            },
          );
      const wait = penalty.delayMs(info.remoteAddress);
      if (wait === 0) return attempt();
      return new Promise<void>((resolve) => setTimeout(resolve, wait).unref()).then(attempt);
    },

    authorizeSubscribe(device, filter) {
      if (subscribeAllowed(subscribeRules, device.identity, filter)) return true;
      log.debug({ filter }, 'subscription refused');
      logSubscribe();
      return false; // SUBACK failure for this filter; the connection stays
    },

    loginRefused(reason, connection) {
      if (reason !== 'client_id') return;
      metrics.authFailures.inc({ reason: 'client_id' });
      log.debug(
        { reason, transport: connection.transport, address: connection.remoteAddress },
        'MQTT login refused',
      );
      logRefused();
    },
  };
}
