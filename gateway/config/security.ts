// Config checks of the device-side security that need more than one field or the files named:
// certificate and key files readable and usable together, the users file readable and well
// formed (its problems by line number, never its content), client-certificate logins backed by a
// TLS listener that asks for certificates, subscribe rules well formed, at least one listener.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { parseSubscribeRule } from '../auth/acl.ts';
import { parseUsersFile } from '../auth/users-file.ts';
import type { ConfigProblem } from './load.ts';

export function checkSecurity(input: unknown, baseDir: string, problems: ConfigProblem[]): void {
  const root = asObject(input);
  const mqtt = asObject(root['mqtt']);
  const tlsConf = asObject(mqtt['tls']);
  const ws = asObject(mqtt['websocket']);
  const auth = root['auth'];

  const readable = (key: string, value: unknown): Buffer | null => {
    if (typeof value !== 'string' || value === '') return null;
    const file = path.resolve(baseDir, value);
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code;
      problems.push({ path: key, message: `cannot read ${file}: ${why}` });
      return null;
    }
  };

  const tlsEnabled = tlsConf['enabled'] === true;
  const clientCerts = tlsConf['clientCertificates'] ?? 'none';
  if (tlsEnabled) {
    for (const key of ['certFile', 'keyFile'] as const) {
      if (tlsConf[key] === undefined)
        problems.push({ path: `mqtt.tls.${key}`, message: 'required when mqtt.tls.enabled' });
    }
    if (clientCerts !== 'none' && tlsConf['caFile'] === undefined) {
      problems.push({
        path: 'mqtt.tls.caFile',
        message: `required when mqtt.tls.clientCertificates is ${String(clientCerts)}: the CA client certificates must chain to`,
      });
    }
    const cert = readable('mqtt.tls.certFile', tlsConf['certFile']);
    const key = readable('mqtt.tls.keyFile', tlsConf['keyFile']);
    const ca = readable('mqtt.tls.caFile', tlsConf['caFile']);
    if (cert !== null && key !== null) {
      try {
        tls.createSecureContext({ cert, key, ...(ca !== null && { ca }) });
      } catch (err) {
        problems.push({
          path: 'mqtt.tls',
          message: `certFile, keyFile and caFile are not a usable TLS setup: ${(err as Error).message}`,
        });
      }
    }
  }

  if (auth !== null && typeof auth === 'object' && !Array.isArray(auth)) {
    const a = auth as Record<string, unknown>;
    const before = problems.length;
    const users = readable('auth.usersFile', a['usersFile']);
    if (users !== null) {
      for (const message of parseUsersFile(users.toString('utf8')).problems)
        problems.push({ path: 'auth.usersFile', message });
    } else if (problems.length > before) {
      const p = problems.pop()!;
      problems.push({ path: p.path, message: `${p.message} (create it with: weir passwd FILE DEVICE_ID)` });
    }
    if (a['clientCertificates'] === true && !(tlsEnabled && clientCerts !== 'none')) {
      problems.push({
        path: 'auth.clientCertificates',
        message: 'needs mqtt.tls.enabled: true and mqtt.tls.clientCertificates: optional or required',
      });
    }
  }

  const rules = asObject(root['acl'])['subscribe'];
  if (Array.isArray(rules)) {
    rules.forEach((rule, i) => {
      const pattern = asObject(rule)['pattern'];
      if (typeof pattern !== 'string') return;
      const parsed = parseSubscribeRule(pattern);
      if ('problems' in parsed)
        for (const message of parsed.problems)
          problems.push({ path: `acl.subscribe[${i}].pattern`, message });
    });
  }

  if (mqtt['plainTcp'] === false && !tlsEnabled && ws['enabled'] !== true) {
    problems.push({
      path: 'mqtt',
      message: 'no listener: plainTcp is false and neither tls nor websocket is enabled',
    });
  }
}

function asObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
