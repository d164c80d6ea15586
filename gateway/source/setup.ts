// From config to the source's listeners and security: reads the certificate files and the users
// file (paths relative to the config file; `weir config check` has already vetted them) and warns
// when devices on other machines could connect without a login.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { parseSubscribeRule, type SubscribeRule } from '../auth/acl.ts';
import { Authenticator } from '../auth/authenticator.ts';
import { LoginPenalty } from '../auth/penalty.ts';
import { parseUsersFile } from '../auth/users-file.ts';
import type { LoadedConfig } from '../config/load.ts';
import { WeirError } from '../errors.ts';
import type { SourceSecurity } from './auth.ts';
import type { ListenerSpec } from './listeners.ts';

export function sourceListeners(loaded: LoadedConfig): ListenerSpec[] {
  const { mqtt } = loaded.config;
  const specs: ListenerSpec[] = [];
  if (mqtt.plainTcp) specs.push({ transport: 'tcp', host: mqtt.host, port: mqtt.port });
  const t = mqtt.tls;
  if (t.enabled) {
    specs.push({
      transport: 'tls',
      host: t.host,
      port: t.port,
      cert: readConfigFile(loaded, 'mqtt.tls.certFile', t.certFile),
      key: readConfigFile(loaded, 'mqtt.tls.keyFile', t.keyFile),
      ca: t.caFile === undefined ? undefined : readConfigFile(loaded, 'mqtt.tls.caFile', t.caFile),
      clientCertificates: t.clientCertificates,
      handshakeTimeoutMs: mqtt.connectTimeoutMs,
    });
  }
  const ws = mqtt.websocket;
  if (ws.enabled) {
    specs.push({
      transport: 'websocket',
      host: ws.host,
      port: ws.port,
      path: ws.path,
      // One MQTT packet per WebSocket message (what clients send), plus its fixed header.
      maxMessageBytes: mqtt.maxPacketBytes + 5,
    });
  }
  return specs;
}

export interface SecuritySetup {
  readonly security: SourceSecurity;
  /** Reads the users file again (SIGHUP); null without one. Keeps the old logins on a bad file. */
  readonly reloadUsers: (() => number) | null;
}

export function sourceSecurity(loaded: LoadedConfig, log: Logger): SecuritySetup {
  const { auth, acl } = loaded.config;
  const subscribeRules = acl.subscribe.map((r) => {
    const parsed = parseSubscribeRule(r.pattern);
    if ('problems' in parsed) throw new WeirError('WEIR_CONFIG_INVALID', parsed.problems.join('; '));
    return parsed.rule;
  }) satisfies SubscribeRule[];
  const penalty = new LoginPenalty();
  if (auth === 'none') {
    const open = sourceListeners(loaded).filter((l) => !isLoopback(l.host));
    if (open.length > 0) {
      log.warn(
        { listeners: open.map((l) => `${l.transport} ${l.host}:${l.port}`) },
        'auth: none — any device that reaches these listeners can connect and publish to any topic',
      );
    }
    return { security: { authenticator: null, subscribeRules, penalty }, reloadUsers: null };
  }
  const usersFile = auth.usersFile;
  const readUsers = (file: string) => {
    const parsed = parseUsersFile(readConfigFile(loaded, 'auth.usersFile', file).toString('utf8'));
    if (parsed.problems.length > 0) {
      throw new WeirError('WEIR_CONFIG_INVALID', `auth.usersFile: ${parsed.problems.join('; ')}`);
    }
    log.info({ devices: parsed.users.size }, 'users file loaded');
    return parsed.users;
  };
  const users = usersFile === undefined ? null : readUsers(usersFile);
  const authenticator = new Authenticator({ users, clientCertificates: auth.clientCertificates });
  const reloadUsers =
    usersFile === undefined
      ? null
      : () => {
          const fresh = readUsers(usersFile);
          authenticator.replaceUsers(fresh);
          return fresh.size;
        };
  return { security: { authenticator, subscribeRules, penalty }, reloadUsers };
}

/** An address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function readConfigFile(loaded: LoadedConfig, key: string, file: string | undefined): Buffer {
  if (file === undefined) throw new WeirError('WEIR_CONFIG_INVALID', `${key} is required`);
  const full = path.resolve(loaded.baseDir, file);
  try {
    return readFileSync(full);
  } catch (cause) {
    throw new WeirError('WEIR_CONFIG_INVALID', `${key}: cannot read ${full}`, { cause });
  }
}
