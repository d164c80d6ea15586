// What `weir start` says when the gateway cannot start: one sentence that names the setting
// involved and the fix, read from the error's code and the system error inside it (never from
// message text). The full error, with its stack, is logged only at --log-level debug.
import path from 'node:path';
import { errorChain, errorMessage, WeirError } from '../errors.ts';

interface SystemError {
  readonly code: string;
  readonly syscall?: string;
  readonly address?: string;
  readonly port?: number;
  readonly path?: string;
}

/** The settings behind each listener: config key and, where there is one, the flag. */
const LISTENER_SETTINGS: Readonly<
  Record<string, { what: string; key: string; flag?: string; host: string }>
> = {
  tcp: { what: 'MQTT', key: 'mqtt.port', flag: '--mqtt-port', host: 'mqtt.host' },
  tls: { what: 'MQTT over TLS', key: 'mqtt.tls.port', host: 'mqtt.tls.host' },
  websocket: { what: 'MQTT over WebSocket', key: 'mqtt.websocket.port', host: 'mqtt.websocket.host' },
  http: { what: 'metrics and the status page', key: 'http.port', flag: '--http-port', host: 'http.host' },
};

const PATH_PROBLEMS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file of that name is in the way',
};

function systemError(err: unknown): SystemError | null {
  for (const e of errorChain(err)) {
    const o = e as Partial<SystemError>;
    if (typeof o.code === 'string' && /^E[A-Z]+$/.test(o.code) && typeof o.syscall === 'string')
      return o as SystemError;
  }
  return null;
}

function transportOf(err: unknown): string | null {
  for (const e of errorChain(err)) {
    const t = (e as { transport?: unknown }).transport;
    if (typeof t === 'string') return t;
  }
  return null;
}

/** One sentence for a failed start, naming the setting and the fix. */
export function startupFailure(err: unknown, ctx: { spoolDir: string | null }): string {
  const sys = systemError(err);
  const code = err instanceof WeirError ? err.code : null;
  if (sys !== null && (code === 'WEIR_MQTT_LISTEN' || code === 'WEIR_HTTP_LISTEN')) {
    const s =
      LISTENER_SETTINGS[code === 'WEIR_HTTP_LISTEN' ? 'http' : (transportOf(err) ?? 'tcp')] ??
      LISTENER_SETTINGS.tcp!;
    const where = `${sys.address ?? '?'}:${sys.port ?? '?'}`;
    const set = `set another port with ${s.key} in the config${s.flag === undefined ? '' : ` or ${s.flag}`}`;
    switch (sys.code) {
      case 'EADDRINUSE':
        return `cannot listen for ${s.what} on ${where}: the port is in use by another program (another weir, or an MQTT broker such as Mosquitto?); stop it, or ${set}.`;
      case 'EACCES':
        return `cannot listen for ${s.what} on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; ${set} (1024 or above).`;
      case 'EADDRNOTAVAIL':
        return `cannot listen for ${s.what} on ${where}: ${sys.address} is not an address of this machine; set ${s.host} to one of its addresses, or 0.0.0.0 for all.`;
      default:
        return `cannot listen for ${s.what} on ${where} (${sys.code}); check ${s.host} and ${s.key}.`;
    }
  }
  if (sys?.path !== undefined && ctx.spoolDir !== null && isInside(sys.path, ctx.spoolDir)) {
    const problem = PATH_PROBLEMS[sys.code] ?? sys.code;
    return `the spool directory ${ctx.spoolDir} (spool.dir, --spool-dir) cannot be used: ${problem} at ${sys.path}; make it writable for the user that runs weir, or choose another with --spool-dir.`;
  }
  if (sys?.path !== undefined) {
    const problem = PATH_PROBLEMS[sys.code] ?? sys.code;
    return `${errorMessage(err)}: ${problem} at ${sys.path}.`;
  }
  const message = errorMessage(err);
  // WeirErrors raised at start-up are already written as one sentence with the fix.
  if (err instanceof WeirError) return /[.!?]$/.test(message) ? message : `${message}.`;
  return `the gateway failed to start: ${message} (run with --log-level debug for the details).`;
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
